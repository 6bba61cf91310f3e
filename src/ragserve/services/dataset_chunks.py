"""The chunks of a dataset's parsed documents, read back from the chunk store for the
dataset-wide builds (RAPTOR, GraphRAG, mind maps) and SQL over table datasets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document
from ragserve.domain import RunState
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.services.auto_keywords import model_for
from ragserve.store.base import ChunkRecord

PAGE = 1000


def dataset_records(runtime: Runtime, document_ids: Sequence[str]) -> Iterator[ChunkRecord]:
    """Every chunk of the documents, document by document in the order given."""
    for document_id in document_ids:
        offset = 0
        while True:
            page, total = runtime.chunks.list_document_chunks(
                document_id, offset=offset, limit=PAGE
            )
            yield from page
            offset += len(page)
            if not page or offset >= total:
                break


def parsed_documents(session: Session, dataset_id: str) -> list[str]:
    """The dataset's parsed documents, oldest first (the same chunks in the same order give
    the same clusters and prompts, so the cache answers a re-run)."""
    return list(
        session.scalars(
            select(Document.id)
            .where(Document.dataset_id == dataset_id, Document.run == RunState.DONE)
            .order_by(Document.create_time, Document.id)
        )
    )


@dataclass(frozen=True)
class BuildStart:
    """What a dataset-wide build starts from."""

    dataset: Dataset
    model_id: str
    """The chat model it builds with: the dataset's, else its tenant's."""
    document_ids: list[str]
    """``parsed_documents``."""


def start_build(
    session: Session, runtime: Runtime, dataset_id: str, error: type[RagserveError], no_model: str
) -> BuildStart:
    """The dataset, its chat model and its parsed documents; ``error`` when the dataset was
    deleted, ``error(no_model)`` when there is no chat model to build with."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise error("The dataset was deleted.")
    model_id = model_for(session, runtime.settings, dataset.tenant_id, dataset.parser_config)
    if not model_id:
        raise error(no_model)
    return BuildStart(dataset, model_id, parsed_documents(session, dataset_id))
