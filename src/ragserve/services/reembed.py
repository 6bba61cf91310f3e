"""Re-embedding a dataset: every chunk's vector made again by another embedding model, without
parsing again, and the dataset switched to that model only once all its vectors are replaced.

It runs as a dataset task (``services.dataset_tasks``, type ``reembed``; ``target`` is the model).
Each chunk is embedded as ingestion embeds it (``embedding_text`` of its content and questions,
mixed with its document's name by ``filename_embd_weight``; RAPTOR summaries by their text
alone), batch by batch, while retrieval keeps using the old vectors and the old model. The new
vectors are held in memory (a 384-d float32 vector is 1.5 kB: 100,000 chunks take 150 MB;
1536-d ones four times that) and written at the end in one ``ChunkStore.replace_vectors`` call,
in the metadata transaction that checks the task is still this worker's (not cancelled), locks
the dataset row, switches ``embedding_model`` and writes the knowledge graph's entity vectors
again. If the chunk store finds chunks added, deleted or re-embedded since they were read (a
chunk edited through the API, a RAPTOR summary), only those are embedded and the switch is tried
again. A failure before the commit writes nothing; one after the chunk store's write puts the old
vectors back. So the dataset is always on one model with all its vectors in that model's space.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document, KnowledgeGraph
from ragserve.errors import RagserveError
from ragserve.ingest.chunk_text import embed_for_document, embedding_text
from ragserve.models.embedding import EmbeddingModel, embed_chunks
from ragserve.rag import graph as kg
from ragserve.runtime import Runtime
from ragserve.services import graphrag, raptor
from ragserve.services.dataset_chunks import dataset_records
from ragserve.store.base import ChunkRecord, VectorsChanged, vector_fingerprint

logger = logging.getLogger("ragserve.ingest")

ATTEMPTS = 5
"""How many times the switch is tried when the dataset's chunks changed meanwhile."""

Report = raptor.Report
Claim = Callable[[Session], None]
"""Checks, in the switching transaction, that the task is still this worker's (raises if not)."""


class ReembedError(RagserveError):
    """The re-embedding cannot finish: the task fails with this message."""


@dataclass(frozen=True)
class _Source:
    """What a chunk's vector is made of."""

    chunk_id: str
    document_id: str
    title: str
    text: str
    summary: bool
    fingerprint: str


def build(runtime: Runtime, dataset_id: str, target: str, report: Report, claim: Claim) -> int:
    """Embed the dataset's chunks with ``target`` and switch the dataset to it; how many
    chunks were embedded."""
    with runtime.read() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise ReembedError("The dataset was deleted.")
        tenant_id, source_model = dataset.tenant_id, dataset.embedding_model
    report(0.01, f"Re-embedding the dataset from {source_model} with {target}.")
    model = runtime.embedding_model(target, tenant_id)
    made: dict[str, tuple[str, np.ndarray]] = {}
    """By chunk id: the fingerprint of the vector it replaces, and the new vector."""
    for _attempt in range(ATTEMPTS):
        sources, old = _sources(runtime, dataset_id)
        todo = [
            source
            for source in sources
            if made.get(source.chunk_id, ("",))[0] != source.fingerprint
        ]
        _embed(runtime, model, dataset_id, todo, made, report, total=len(sources))
        expected = {source.chunk_id: source.fingerprint for source in sources}
        vectors = {source.chunk_id: made[source.chunk_id][1] for source in sources}
        entities = _entity_vectors(runtime, dataset_id, tenant_id, target)
        report(0.95, f"Switching the dataset's {len(vectors)} vectors to {target}.")
        try:
            _switch(runtime, dataset_id, target, claim, vectors, expected, old, entities)
        except VectorsChanged as changed:
            logger.info("re-embedding dataset %s: %s; again", dataset_id, changed)
            report(None, "Chunks changed meanwhile: embedding those again.")
            continue
        report(None, f"Re-embedded {len(vectors)} chunks with {target}.")
        return len(vectors)
    raise ReembedError(
        f"The dataset's chunks kept changing while it was re-embedded ({ATTEMPTS} tries); "
        "run it again when nothing else writes to the dataset."
    )


def _sources(runtime: Runtime, dataset_id: str) -> tuple[list[_Source], dict[str, np.ndarray]]:
    """What each chunk with a vector is embedded from, and its current vector."""
    with runtime.read() as session:
        documents = list(
            session.scalars(
                select(Document.id)
                .where(Document.dataset_id == dataset_id)
                .order_by(Document.create_time, Document.id)
            )
        )
    sources: list[_Source] = []
    old: dict[str, np.ndarray] = {}
    for record in dataset_records(runtime, documents):
        if record.vector is None:
            continue
        sources.append(_source(record))
        old[record.id] = record.vector
    return sources, old


def _source(record: ChunkRecord) -> _Source:
    summary = raptor.is_summary(record)
    return _Source(
        chunk_id=record.id,
        document_id=record.document_id,
        title=record.document_name,
        text=record.content if summary else embedding_text(record.content, record.questions),
        summary=summary,
        fingerprint=vector_fingerprint(record.vector) if record.vector is not None else "",
    )


def _embed(
    runtime: Runtime,
    model: EmbeddingModel,
    dataset_id: str,
    todo: Sequence[_Source],
    made: dict[str, tuple[str, np.ndarray]],
    report: Report,
    *,
    total: int,
) -> None:
    """Embed ``todo`` in batches of one document and kind, as ingestion (or RAPTOR) did."""
    with runtime.read() as session:
        configs = {
            row.id: dict(row.parser_config or {})
            for row in session.scalars(select(Document).where(Document.dataset_id == dataset_id))
        }
    batch = runtime.settings.embedding_batch_size
    groups: dict[tuple[str, bool], list[_Source]] = {}
    for source in todo:
        groups.setdefault((source.document_id, source.summary), []).append(source)
    done = total - len(todo)
    for (document_id, summary), members in groups.items():
        for start in range(0, len(members), batch):
            part = members[start : start + batch]
            texts = [source.text for source in part]
            titles = [source.title for source in part]
            if summary:
                vectors = embed_chunks(model, titles, texts, 0.0)
            else:
                config = configs.get(document_id, {})
                vectors = embed_for_document(model, titles[0], config, texts)
            for source, vector in zip(part, vectors, strict=True):
                made[source.chunk_id] = (source.fingerprint, np.asarray(vector, dtype=np.float32))
            done += len(part)
            report(0.05 + 0.85 * done / max(total, 1), f"Embedded {done}/{total} chunks.")


def _entity_vectors(
    runtime: Runtime, dataset_id: str, tenant_id: str, target: str
) -> tuple[list[str], np.ndarray] | None:
    """The knowledge graph's entities embedded with ``target``; None without a graph."""
    with runtime.read() as session:
        row = session.scalars(
            select(KnowledgeGraph).where(KnowledgeGraph.dataset_id == dataset_id)
        ).first()
        graph_json: dict[str, Any] = dict(row.graph) if row is not None and row.entity_names else {}
    if not graph_json:
        return None
    return graphrag.entity_vectors(runtime, target, tenant_id, kg.from_json(graph_json))


def _switch(
    runtime: Runtime,
    dataset_id: str,
    target: str,
    claim: Claim,
    vectors: dict[str, np.ndarray],
    expected: dict[str, str],
    old: dict[str, np.ndarray],
    entities: tuple[list[str], np.ndarray] | None,
) -> None:
    """Write the new vectors and switch the dataset's model, all or nothing."""
    written = False
    try:
        with runtime.transaction() as session:
            claim(session)
            dataset = session.get(Dataset, dataset_id, with_for_update=True, populate_existing=True)
            if dataset is None:
                raise ReembedError("The dataset was deleted.")
            if entities is not None:
                row = graphrag.graph_row(session, dataset_id, dataset.tenant_id)
                row.entity_names = entities[0]
                row.vectors = entities[1].astype(np.float32).tobytes()
            runtime.chunks.replace_vectors(dataset_id, vectors, expected)
            written = True
            dataset.embedding_model = target
    except BaseException:
        if written:  # the metadata commit failed: the chunks get their old vectors back
            back = {key: vector_fingerprint(vector) for key, vector in vectors.items()}
            try:
                runtime.chunks.replace_vectors(dataset_id, old, back)
            except Exception:
                logger.exception("dataset %s: could not put its old vectors back", dataset_id)
        raise
