"""Chunks of a document: list, add, update, delete (spec 2.3). Added and edited chunks are
embedded at once and searchable as soon as the call returns.

The chunks live only in the chunk store; the document's row holds their counts. An edit commits
that its counts must follow (``ingest.store_sync``) before it writes the store, and counts them
again after: a failure in between leaves the promise behind, and the repair counts them. Changes
to the document still pending (a purge after a new chunk method, say) are applied before the
edit, so they never undo it.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document, StoreSyncAction
from ragserve.domain import ChunkMethod, Validity
from ragserve.errors import DataError, ResourceNotFound
from ragserve.ingest import store_sync
from ragserve.ingest.chunk_text import embed_for_document, embedding_text, keyword_tokens
from ragserve.rag.highlight import highlight
from ragserve.runtime import Runtime
from ragserve.schemas.chunks import (
    AddChunk,
    AddedChunk,
    Chunk,
    ChunkPage,
    ListChunks,
    UpdateChunk,
    readable_positions,
)
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.documents import document_in, public, visible_dataset
from ragserve.services.tenancy import Caller
from ragserve.store.base import ChunkRecord, chunk_id
from ragserve.tokenizer import count_tokens, tokenize, tokenize_to_text

MANUAL_ORDER = -1  # added chunks: the id depends on the content only, so re-adding overwrites
QA_SEPARATOR = re.compile(r"\t|\n")


def _document(
    session: Session, caller: Caller, dataset_id: str, document_id: str
) -> tuple[Dataset, Document]:
    dataset = visible_dataset(
        session, caller, dataset_id, f"You don't own the dataset {dataset_id}."
    )
    document = document_in(session, dataset_id, document_id)
    if document is None:
        raise DataError(f"You don't own the document {document_id}.")
    return dataset, document


def chunk_public(record: ChunkRecord, content: str | None = None) -> Chunk:
    """The chunk as RAGFlow lists it (``content``: its highlighted text)."""
    return Chunk(
        id=record.id,
        content=record.content if content is None else content,
        document_id=record.document_id,
        docnm_kwd=record.document_name,
        important_keywords=record.important_keywords,
        questions=record.questions,
        dataset_id=record.dataset_id,
        image_id=record.image_id,
        available=record.available,
        positions=readable_positions(record.positions),
    )


def list_chunks(
    runtime: Runtime, caller: Caller, dataset_id: str, document_id: str, query: ListChunks
) -> ChunkPage:
    """One page of the document's chunks; matches of ``keywords`` are highlighted."""
    with runtime.read() as session:
        _, document = _document(session, caller, dataset_id, document_id)
        doc = public(document)
    terms = search_terms(query.keywords) if query.keywords else None
    records, total = runtime.chunks.list_document_chunks(
        document_id,
        terms=terms,
        chunk_id=query.id or None,
        offset=(query.page - 1) * query.page_size,
        limit=query.page_size,
    )
    if query.id and not records:
        raise ResourceNotFound(f"Chunk not found: {dataset_id}/{query.id}")
    listed = [
        chunk_public(record, highlight(record.content, terms) if terms else None)
        for record in records
    ]
    return ChunkPage(total=total, chunks=listed, doc=doc)


def add_chunk(
    runtime: Runtime, caller: Caller, dataset_id: str, document_id: str, request: AddChunk
) -> AddedChunk:
    """Add (or, with the same content, replace) a chunk written by hand."""
    with runtime.read() as session:
        dataset, document = _document(session, caller, dataset_id, document_id)
        pending = store_sync.is_pending(session, document.id)
    if pending:
        store_sync.apply(runtime.sessions, runtime.chunks, document.id)
    content = request.content
    record = ChunkRecord(
        id=chunk_id(document.id, content, MANUAL_ORDER),
        tenant_id=document.tenant_id,
        dataset_id=document.dataset_id,
        document_id=document.id,
        document_name=document.name,
        content=content,
        content_tokens=tokenize_to_text(content),
        title_tokens=tokenize_to_text(document.name),
        keyword_tokens=keyword_tokens(request.important_keywords, request.questions),
        important_keywords=request.important_keywords,
        questions=request.questions,
        available=document.status == Validity.VALID,
        token_count=count_tokens(content),
        order=runtime.chunks.counts(document_id=document.id).chunks,
        create_time=time.time(),
    )
    record.vector = _embed(runtime, dataset, document, record)
    _count_after(runtime, document.id)
    if runtime.chunks.get([record.id], [document.tenant_id]):
        runtime.chunks.update(record)
    else:
        runtime.chunks.insert([record])
    store_sync.apply(runtime.sessions, runtime.chunks, document.id)
    created = datetime.fromtimestamp(record.create_time, UTC)
    return AddedChunk(
        id=record.id,
        content=record.content,
        document_id=record.document_id,
        important_keywords=record.important_keywords,
        questions=record.questions,
        dataset_id=record.dataset_id,
        create_time=created.strftime("%Y-%m-%d %H:%M:%S"),
        create_timestamp=record.create_time,
    )


def update_chunk(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    chunk: str,
    request: UpdateChunk,
) -> None:
    """Change the given fields of a chunk and embed it again."""
    with runtime.read() as session:
        dataset = visible_dataset(
            session, caller, dataset_id, f"You don't own the dataset {dataset_id}."
        )
        found = runtime.chunks.get([chunk], [dataset.tenant_id])
        if not found or found[0].document_id != document_id:
            raise DataError(f"Can't find this chunk {chunk}")
        _, document = _document(session, caller, dataset_id, document_id)
        pending = store_sync.is_pending(session, document.id)
    if pending:
        store_sync.apply(runtime.sessions, runtime.chunks, document.id)
    changes: dict[str, Any] = {}
    given = request.model_fields_set
    if request.content is not None:
        changes.update(
            content=request.content,
            content_tokens=tokenize_to_text(request.content),
            token_count=count_tokens(request.content),
        )
    for name in ("important_keywords", "questions", "positions"):
        if name in given:
            changes[name] = getattr(request, name) or []
    if request.available is not None:
        changes["available"] = request.available
    updated = replace(found[0], **changes)
    if document.chunk_method == ChunkMethod.QA and len(QA_SEPARATOR.split(updated.content)) != 2:
        raise DataError("Q&A must be separated by TAB/ENTER key.")
    updated.keyword_tokens = keyword_tokens(updated.important_keywords, updated.questions)
    updated.vector = _embed(runtime, dataset, document, updated)
    _count_after(runtime, document.id)
    runtime.chunks.update(updated)
    store_sync.apply(runtime.sessions, runtime.chunks, document.id)


def delete_chunks(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    chunk_ids: list[str] | None,
) -> BatchOutcome:
    """Delete the named chunks (``None``: all of the document's)."""
    outcome = BatchOutcome()
    with runtime.read() as session:
        _, document = _document(session, caller, dataset_id, document_id)
        pending = store_sync.is_pending(session, document.id)
    if pending:
        store_sync.apply(runtime.sessions, runtime.chunks, document.id)
    _count_after(runtime, document.id)
    if chunk_ids is None:
        outcome.succeeded = runtime.chunks.delete_document(document.id)
        store_sync.apply(runtime.sessions, runtime.chunks, document.id)
        return outcome
    unique = unique_ids(chunk_ids, "chunk", outcome)
    own = [
        c.id
        for c in runtime.chunks.get(unique, [document.tenant_id])
        if c.document_id == document.id
    ]
    outcome.succeeded = runtime.chunks.delete(own)
    store_sync.apply(runtime.sessions, runtime.chunks, document.id)
    if outcome.succeeded != len(unique):
        raise DataError(f"rm_chunk deleted chunks {outcome.succeeded}, expect {len(unique)}")
    return outcome


def search_terms(keywords: str) -> list[str]:
    """The full-text terms of a keyword search; text the tokenizer drops entirely (stop words
    only) is searched as the one term it spells."""
    return tokenize(keywords) or [keywords.casefold().strip()]


def _embed(runtime: Runtime, dataset: Dataset, document: Document, record: ChunkRecord) -> Any:
    model = runtime.embedding_model(dataset.embedding_model, dataset.tenant_id)
    text = embedding_text(record.content, record.questions)
    return embed_for_document(model, document.name, document.parser_config, [text])[0]


def _count_after(runtime: Runtime, document_id: str) -> None:
    """Commit, before the store is written, that the document's counts must follow it."""
    with runtime.transaction() as session:
        store_sync.record(session, document_id, StoreSyncAction.COUNTS)
