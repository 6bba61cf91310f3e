"""Documents of a dataset: upload, list, update, download, delete (spec 2.2)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from ragserve.api.body import json_object, query_model, validate_model
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, api_result, partial_result
from ragserve.db.models import Document
from ragserve.schemas.documents import RUN_NAMES, DeleteDocuments, ListDocuments
from ragserve.services import documents
from ragserve.services.documents import Upload
from ragserve.services.filetypes import content_type_for
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/api/v1/datasets/{dataset_id}/documents", tags=["documents"])

MAX_FILES_PER_REQUEST = 10_000
JsonBody = Annotated[dict[str, Any], Depends(json_object)]


def document_wire(document: Document, *, raw_unknown_run: bool = False) -> dict[str, Any]:
    """The document as RAGFlow shows it; an unknown ``run`` is shown raw by the list only."""
    fallback = document.run if raw_unknown_run else None
    return {
        "id": document.id,
        "thumbnail": document.thumbnail,
        "dataset_id": document.dataset_id,
        "chunk_method": document.chunk_method,
        "pipeline_id": document.pipeline_id,
        "parser_config": document.parser_config,
        "source_type": document.source_type,
        "type": document.type,
        "created_by": document.created_by,
        "name": document.name,
        "location": document.name,
        "size": document.size,
        "token_count": document.token_count,
        "chunk_count": document.chunk_count,
        "progress": document.progress,
        "progress_msg": document.progress_msg,
        "process_begin_at": rfc1123(document.process_begin_at),
        "process_duration": document.process_duration,
        "meta_fields": document.meta_fields,
        "suffix": document.suffix,
        "run": RUN_NAMES.get(document.run, fallback),
        "status": document.status,
        "create_time": document.create_time,
        "create_date": rfc1123(document.create_date),
        "update_time": document.update_time,
        "update_date": rfc1123(document.update_date),
    }


def uploaded_wire(document: Document) -> dict[str, Any]:
    keys = (
        "id", "name", "dataset_id", "chunk_method", "pipeline_id", "parser_config",
        "created_by", "type", "source_type", "suffix", "location", "size", "thumbnail", "run",
    )  # fmt: skip
    wire = document_wire(document)
    return {key: wire[key] for key in keys}


async def _uploads(request: Request) -> list[Upload]:
    form = await request.form(max_files=MAX_FILES_PER_REQUEST, max_fields=MAX_FILES_PER_REQUEST)
    return [
        Upload(value.filename or "", value.file)
        for key, value in form.multi_items()
        if key == "file" and isinstance(value, UploadFile)
    ]


@router.post("")
def upload_documents(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: str,
    uploads: Annotated[list[Upload], Depends(_uploads)],
) -> dict[str, Any]:
    stored = documents.upload_documents(runtime, caller, dataset_id, uploads)
    return api_result([uploaded_wire(document) for document in stored])


@router.get("")
def list_documents(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: str,
    query: Annotated[ListDocuments, Depends(query_model(ListDocuments))],
) -> dict[str, Any]:
    with runtime.read() as session:
        docs, total = documents.list_documents(session, caller, dataset_id, query)
        wires = [document_wire(doc, raw_unknown_run=True) | {"title": None} for doc in docs]
    return api_result({"total": total, "docs": wires})


@router.put("/{document_id}")
def update_document(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, document_id: str, body: JsonBody
) -> dict[str, Any]:
    with runtime.transaction() as session:
        document = documents.update_document(
            session, runtime.chunks, caller, dataset_id, document_id, body
        )
        return api_result(document_wire(document))


@router.get("/{document_id}")
def download_document(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, document_id: str
) -> StreamingResponse:
    document, content = documents.open_document(runtime, caller, dataset_id, document_id)
    disposition = f"attachment; filename*=UTF-8''{quote(document.name, safe='')}"
    return StreamingResponse(
        content,
        media_type=content_type_for(document.name),
        headers={"Content-Disposition": disposition, "Content-Length": str(document.size)},
    )


@router.delete("")
def delete_documents(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    request = validate_model(DeleteDocuments, body)
    outcome = documents.delete_documents(runtime, caller, dataset_id, request.ids)
    return partial_result(outcome.succeeded, outcome.errors)
