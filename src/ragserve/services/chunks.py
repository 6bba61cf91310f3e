"""Chunks of a document: list, add, update, delete (spec 2.3). Added and edited chunks are
embedded at once and searchable as soon as the call returns; counters follow the store."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document
from ragserve.errors import DataError, ResourceNotFound
from ragserve.ingest.chunk_text import embed_for_document, embedding_text, keyword_tokens
from ragserve.runtime import Runtime
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.documents import visible_dataset
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
    document = session.scalars(
        select(Document).where(Document.id == document_id, Document.dataset_id == dataset_id)
    ).first()
    if document is None:
        raise DataError(f"You don't own the document {document_id}.")
    return dataset, document


def list_chunks(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    *,
    page: int,
    page_size: int,
    keywords: str | None,
    chunk: str | None,
) -> tuple[Document, list[ChunkRecord], int]:
    with runtime.read() as session:
        _, document = _document(session, caller, dataset_id, document_id)
    records, total = runtime.chunks.list_document_chunks(
        document_id,
        terms=search_terms(keywords) if keywords else None,
        chunk_id=chunk or None,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    if chunk and not records:
        raise ResourceNotFound(f"Chunk not found: {dataset_id}/{chunk}")
    return document, records, total


def add_chunk(
    runtime: Runtime, caller: Caller, dataset_id: str, document_id: str, body: Mapping[str, Any]
) -> ChunkRecord:
    content = body.get("content")
    if not isinstance(content, str) or not content.strip():
        raise DataError("`content` is required")
    keywords = _string_list(body, "important_keywords", "is required to be a list")
    questions = _string_list(body, "questions", "is required to be a list")
    with runtime.read() as session:
        dataset, document = _document(session, caller, dataset_id, document_id)
    record = ChunkRecord(
        id=chunk_id(document.id, content, MANUAL_ORDER),
        tenant_id=document.tenant_id,
        dataset_id=document.dataset_id,
        document_id=document.id,
        document_name=document.name,
        content=content,
        content_tokens=tokenize_to_text(content),
        title_tokens=tokenize_to_text(document.name),
        keyword_tokens=keyword_tokens(keywords, questions),
        important_keywords=keywords,
        questions=questions,
        available=document.status == "1",
        token_count=count_tokens(content),
        order=_next_order(runtime, document.id),
        create_time=time.time(),
    )
    record.vector = _embed(runtime, dataset, document, record)
    if runtime.chunks.get([record.id], [document.tenant_id]):
        runtime.chunks.update(record)
    else:
        runtime.chunks.insert([record])
    _sync_counts(runtime, document.id)
    return record


def update_chunk(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    chunk: str,
    body: Mapping[str, Any],
) -> None:
    with runtime.read() as session:
        dataset = visible_dataset(
            session, caller, dataset_id, f"You don't own the dataset {dataset_id}."
        )
        found = runtime.chunks.get([chunk], [dataset.tenant_id])
        if not found or found[0].document_id != document_id:
            raise DataError(f"Can't find this chunk {chunk}")
        _, document = _document(session, caller, dataset_id, document_id)
    record = found[0]
    changes: dict[str, Any] = {}
    if "content" in body:
        content = body["content"]
        if not isinstance(content, str):
            raise DataError("`content` should be a string")
        changes.update(
            content=content,
            content_tokens=tokenize_to_text(content),
            token_count=count_tokens(content),
        )
    for name in ("important_keywords", "questions"):
        if name in body:
            changes[name] = _string_list(body, name, "should be a list")
    if "positions" in body:
        if not isinstance(body["positions"], list):
            raise DataError("`positions` should be a list")
        changes["positions"] = body["positions"]
    if "available" in body:
        changes["available"] = bool(body["available"])
    updated = replace(record, **changes)
    if document.chunk_method == "qa" and len(QA_SEPARATOR.split(updated.content)) != 2:
        raise DataError("Q&A must be separated by TAB/ENTER key.")
    updated.keyword_tokens = keyword_tokens(updated.important_keywords, updated.questions)
    updated.vector = _embed(runtime, dataset, document, updated)
    runtime.chunks.update(updated)
    _sync_counts(runtime, document.id)


def delete_chunks(
    runtime: Runtime,
    caller: Caller,
    dataset_id: str,
    document_id: str,
    chunk_ids: Sequence[str] | None,
) -> BatchOutcome:
    """Delete the named chunks (``None``: all of the document's)."""
    outcome = BatchOutcome()
    with runtime.read() as session:
        _, document = _document(session, caller, dataset_id, document_id)
    if chunk_ids is None:
        outcome.succeeded = runtime.chunks.delete_document(document.id)
        _sync_counts(runtime, document.id)
        return outcome
    unique = unique_ids(chunk_ids, "chunk", outcome)
    own = [
        c.id
        for c in runtime.chunks.get(unique, [document.tenant_id])
        if c.document_id == document.id
    ]
    outcome.succeeded = runtime.chunks.delete(own)
    _sync_counts(runtime, document.id)
    if outcome.succeeded != len(unique):
        raise DataError(f"rm_chunk deleted chunks {outcome.succeeded}, expect {len(unique)}")
    return outcome


def search_terms(keywords: str) -> list[str]:
    """The full-text terms of a keyword search; text the tokenizer drops entirely (stop words
    only) is searched as the one term it spells."""
    return tokenize(keywords) or [keywords.casefold().strip()]


def _string_list(body: Mapping[str, Any], name: str, problem: str) -> list[str]:
    value = body.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DataError(f"`{name}` {problem}")
    return [item for item in value if item.strip()]


def _embed(runtime: Runtime, dataset: Dataset, document: Document, record: ChunkRecord) -> Any:
    model = runtime.embedding_model(dataset.embedding_model, dataset.tenant_id)
    text = embedding_text(record.content, record.questions)
    return embed_for_document(model, document.name, document.parser_config, [text])[0]


def _next_order(runtime: Runtime, document_id: str) -> int:
    return runtime.chunks.counts(document_id=document_id).chunks


def _sync_counts(runtime: Runtime, document_id: str) -> None:
    counts = runtime.chunks.counts(document_id=document_id)
    with runtime.transaction() as session:
        document = session.get(Document, document_id)
        if document is not None:
            document.chunk_count, document.token_count = counts.chunks, counts.tokens
