"""Parsing (``/datasets/{id}/chunks``) and chunks of a document (spec 2.2, 2.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, partial_result
from ragserve.schemas.chunks import (
    AddChunk,
    ChunkAdded,
    ChunkPage,
    DeleteChunks,
    DocumentIds,
    ListChunks,
    UpdateChunk,
)
from ragserve.services import chunks, parsing

router = APIRouter(
    prefix="/api/v1/datasets/{dataset_id}", tags=["chunks"], route_class=RagflowRoute
)

DatasetId = Annotated[str, Path(description="The dataset's id.")]
DocumentId = Annotated[str, Path(description="The document's id.")]
ChunkId = Annotated[str, Path(description="The chunk's id (16 hex digits).")]
# RAGFlow reads a missing body as {}: its checks then name the missing key.
DocumentIdsBody = Annotated[DocumentIds, Body(default_factory=dict, validate_default=True)]


@router.post("/chunks", summary="Parse documents")
def parse_documents(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId, request: DocumentIdsBody
) -> Ok | Result[BatchOutcome]:
    """Queue the documents for parsing; their old chunks go at once, the new ones come when
    the parse is done. Progress shows in the document list (`run`, `progress`,
    `progress_msg`). A document being parsed refuses the whole request."""
    outcome = parsing.start_parsing(runtime, caller, dataset_id, request.document_ids)
    return partial_result(outcome.succeeded, outcome.errors)


@router.delete("/chunks", summary="Stop parsing documents")
def stop_parsing(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId, request: DocumentIdsBody
) -> Ok | Result[BatchOutcome]:
    """Cancel the documents' running parses: each becomes CANCEL, with no chunks."""
    outcome = parsing.stop_parsing(runtime, caller, dataset_id, request.document_ids)
    return partial_result(outcome.succeeded, outcome.errors)


@router.get("/documents/{document_id}/chunks", summary="List chunks")
def list_chunks(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    document_id: DocumentId,
    query: Annotated[ListChunks, Query()],
) -> Result[ChunkPage]:
    """One page of the document's chunks in document order (disabled ones too), how many
    match in all, and the document."""
    return Result(data=chunks.list_chunks(runtime, caller, dataset_id, document_id, query))


@router.post("/documents/{document_id}/chunks", summary="Add a chunk")
def add_chunk(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    document_id: DocumentId,
    request: Annotated[AddChunk, Body(default_factory=dict, validate_default=True)],
) -> Result[ChunkAdded]:
    """Add a chunk written by hand; it is embedded and searchable when the call returns,
    and counted in the document's `chunk_count`."""
    added = chunks.add_chunk(runtime, caller, dataset_id, document_id, request)
    return Result(data=ChunkAdded(chunk=added))


@router.put("/documents/{document_id}/chunks/{chunk_id}", summary="Update a chunk")
def update_chunk(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    document_id: DocumentId,
    chunk_id: ChunkId,
    request: Annotated[UpdateChunk, Body(default_factory=UpdateChunk)],
) -> Ok:
    """Change a chunk's text, keywords, questions, positions or availability; it is embedded
    again. In a Q&A document the text must be a question and an answer split by a TAB or a
    newline."""
    chunks.update_chunk(runtime, caller, dataset_id, document_id, chunk_id, request)
    return Ok()


@router.delete("/documents/{document_id}/chunks", summary="Delete chunks")
def delete_chunks(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    document_id: DocumentId,
    request: Annotated[DeleteChunks, Body(default_factory=DeleteChunks)],
) -> Ok | Result[BatchOutcome]:
    """Delete the named chunks of the document (none named: all of them). Fewer deleted
    than named is an error (code 102) after the others are deleted."""
    outcome = chunks.delete_chunks(runtime, caller, dataset_id, document_id, request.chunk_ids)
    return partial_result(outcome.succeeded, outcome.errors)
