"""Parsing (``/datasets/{id}/chunks``) and chunks of a document (spec 2.2, 2.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from ragserve.api.body import json_object, query_model
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.documents import document_wire
from ragserve.api.envelope import BatchOutcome, Ok, Result, api_result, partial_result
from ragserve.errors import DataError
from ragserve.rag.highlight import highlight
from ragserve.schemas.common import Page, PageSize
from ragserve.services import chunks, parsing
from ragserve.store.base import ChunkRecord

router = APIRouter(prefix="/api/v1/datasets/{dataset_id}", tags=["chunks"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]


class ListChunks(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: Page = 1
    page_size: PageSize = 30
    keywords: str | None = None
    id: str | None = None


def chunk_wire(record: ChunkRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "content": record.content,
        "document_id": record.document_id,
        "docnm_kwd": record.document_name,
        "important_keywords": record.important_keywords,
        "questions": record.questions,
        "dataset_id": record.dataset_id,
        "image_id": record.image_id,
        "available": record.available,
        "positions": [list(position) for position in record.positions if len(position) == 5],
    }


def _document_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("document_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DataError("`document_ids` is required")
    return ids


@router.post("/chunks")
def parse_documents(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    """Queue the documents for parsing; progress shows in the document list."""
    outcome = parsing.start_parsing(runtime, caller, dataset_id, _document_ids(body))
    return partial_result(outcome.succeeded, outcome.errors)


@router.delete("/chunks")
def stop_parsing(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    outcome = parsing.stop_parsing(runtime, caller, dataset_id, _document_ids(body))
    return partial_result(outcome.succeeded, outcome.errors)


@router.get("/documents/{document_id}/chunks")
def list_chunks(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: str,
    document_id: str,
    query: Annotated[ListChunks, Depends(query_model(ListChunks))],
) -> dict[str, Any]:
    document, records, total = chunks.list_chunks(
        runtime,
        caller,
        dataset_id,
        document_id,
        page=query.page,
        page_size=query.page_size,
        keywords=query.keywords,
        chunk=query.id,
    )
    listed = [chunk_wire(record) for record in records]
    if query.keywords:  # RAGFlow shows the matches highlighted
        terms = chunks.search_terms(query.keywords)
        for wire, record in zip(listed, records, strict=True):
            wire["content"] = highlight(record.content, terms)
    return api_result({"total": total, "chunks": listed, "doc": document_wire(document)})


@router.post("/documents/{document_id}/chunks")
def add_chunk(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, document_id: str, body: JsonBody
) -> dict[str, Any]:
    record = chunks.add_chunk(runtime, caller, dataset_id, document_id, body)
    created = datetime.fromtimestamp(record.create_time, UTC)
    wire = {
        key: chunk_wire(record)[key]
        for key in ("id", "content", "document_id", "important_keywords", "questions", "dataset_id")
    }
    wire.update(
        create_time=created.strftime("%Y-%m-%d %H:%M:%S"), create_timestamp=record.create_time
    )
    return api_result({"chunk": wire})


@router.put("/documents/{document_id}/chunks/{chunk_id}")
def update_chunk(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: str,
    document_id: str,
    chunk_id: str,
    body: JsonBody,
) -> dict[str, Any]:
    chunks.update_chunk(runtime, caller, dataset_id, document_id, chunk_id, body)
    return api_result()


@router.delete("/documents/{document_id}/chunks")
def delete_chunks(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, document_id: str, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    chunk_ids = body.get("chunk_ids")
    if chunk_ids is not None and not (
        isinstance(chunk_ids, list) and all(isinstance(i, str) for i in chunk_ids)
    ):
        raise DataError("`chunk_ids` should be a list")
    outcome = chunks.delete_chunks(runtime, caller, dataset_id, document_id, chunk_ids)
    return partial_result(outcome.succeeded, outcome.errors)
