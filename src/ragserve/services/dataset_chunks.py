"""The chunks of a dataset's parsed documents, read back from the chunk store for the
dataset-wide builds (RAPTOR, GraphRAG, mind maps) and SQL over table datasets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Document
from ragserve.domain import RunState
from ragserve.runtime import Runtime
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
