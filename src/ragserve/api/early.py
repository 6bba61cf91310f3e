"""The early RAGFlow API (spec ragflow-more.md E): eight routes that 2024's scripts still call.

Adapters only: each route hands its request to ``services/early.py``, which resolves names and
calls today's services. The ``/v1/api`` routes answer in the old ``retcode``/``retmsg``
envelope (errors too, see ``api/errors.py``); the dataset routes in ``code``/``message``/``data``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Form, Path, Query, UploadFile
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult, file_download
from ragserve.api.openapi import EARLY_ERRORS
from ragserve.schemas.early import (
    CreateEarlyDataset,
    DeleteEarlyDocuments,
    EarlyChunk,
    EarlyDataset,
    EarlyDatasetName,
    EarlyDocument,
    EarlyResult,
    KbDocPage,
    ListEarlyChunks,
    ListKbDocs,
)
from ragserve.services import early

router = APIRouter(tags=["early API"], route_class=RagflowRoute)


@router.post("/api/v1/dataset", summary="Create a dataset (early API)")
def create_dataset(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[CreateEarlyDataset, Body()]
) -> WebResult[EarlyDatasetName]:
    """Today's dataset creation with only a name; the answer is the name given to it (a
    name already taken gets `(1)`, `(2)`…)."""
    with runtime.transaction() as session:
        name = early.create_dataset(session, caller, request.dataset_name, runtime=runtime)
    return WebResult(data=EarlyDatasetName(dataset_name=name))


@router.get("/api/v1/dataset", summary="List datasets (early API)")
def list_datasets(runtime: RuntimeDep, caller: ApiCaller) -> WebResult[list[EarlyDataset]]:
    """Every dataset the caller may see, with the old field names."""
    with runtime.read() as session:
        return WebResult(data=early.list_datasets(session, caller))


@router.delete("/api/v1/dataset/{dataset_id}", summary="Delete a dataset (early API)")
def delete_dataset(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: Annotated[str, Path(description="The dataset's id.")],
) -> WebResult[bool]:
    """Delete one of the caller's datasets with its documents."""
    early.delete_dataset(runtime, caller, dataset_id)
    return WebResult(data=True)


@router.post(
    "/v1/api/document/upload", summary="Upload a document (early API)", openapi_extra=EARLY_ERRORS
)
def upload_document(
    runtime: RuntimeDep,
    caller: ApiCaller,
    file: Annotated[UploadFile | None, File(description="The file.")] = None,
    kb_name: Annotated[str | None, Form(description="The dataset's name.")] = None,
    parser_id: Annotated[
        str | None,
        Form(
            description="A chunk method: naive (or general), qa, manual, table, paper, laws, "
            "presentation, picture, one."
        ),
    ] = None,
    run: Annotated[str | None, Form(description="`1`: parse at once.")] = None,
) -> EarlyResult[EarlyDocument]:
    """Upload one file to the named dataset, optionally with a chunk method, and parse it
    when `run` is `1`."""
    row = early.upload(runtime, caller, file, kb_name=kb_name, parser_id=parser_id, run=run)
    return EarlyResult(data=row)


@router.get(
    "/v1/api/list_chunks",
    summary="List a document's chunks (early API)",
    openapi_extra=EARLY_ERRORS,
)
def list_chunks(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[ListEarlyChunks, Query()]
) -> EarlyResult[list[EarlyChunk]]:
    """The chunks of the document named by id or name."""
    return EarlyResult(
        data=early.list_chunks(runtime, caller, doc_id=query.doc_id, doc_name=query.doc_name)
    )


@router.post(
    "/v1/api/list_kb_docs",
    summary="List a dataset's documents (early API)",
    openapi_extra=EARLY_ERRORS,
)
def list_kb_docs(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[ListKbDocs, Body()]
) -> EarlyResult[KbDocPage]:
    """One page of the named dataset's documents: ids and names."""
    with runtime.read() as session:
        return EarlyResult(data=early.list_kb_documents(session, caller, request))


@router.delete(
    "/v1/api/document", summary="Delete documents (early API)", openapi_extra=EARLY_ERRORS
)
def delete_documents(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[DeleteEarlyDocuments, Body()]
) -> EarlyResult[bool]:
    """Delete the documents named by id or by name; one not found deletes none."""
    early.delete_documents(runtime, caller, doc_ids=request.doc_ids, doc_names=request.doc_names)
    return EarlyResult(data=True)


@router.get(
    "/v1/document/get/{document_id}",
    summary="Download a document (early API)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The stored file, byte for byte; or an error envelope.",
            "content": {
                "*/*": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
            },
        }
    },
)
def get_document(
    runtime: RuntimeDep,
    caller: WebCaller,
    document_id: Annotated[str, Path(description="The document's id.")],
) -> StreamingResponse:
    """The file of a document the caller may see (a web session or an API key)."""
    return file_download(early.open_document(runtime, caller, document_id))
