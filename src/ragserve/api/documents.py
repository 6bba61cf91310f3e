"""Documents of a dataset: upload, list, update, download, delete (spec 2.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Path, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, file_download, partial_result
from ragserve.schemas.documents import (
    DeleteDocuments,
    DocumentPage,
    DocumentPublic,
    ListDocuments,
    UpdateDocument,
    UploadedDocument,
    uploaded_files,
)
from ragserve.services import documents

router = APIRouter(
    prefix="/api/v1/datasets/{dataset_id}/documents", tags=["documents"], route_class=RagflowRoute
)

MAX_FILES_PER_REQUEST = 10_000

DatasetId = Annotated[str, Path(description="The dataset's id.")]
DocumentId = Annotated[str, Path(description="The document's id.")]
Files = Annotated[
    list[UploadFile],
    BeforeValidator(uploaded_files),
    File(
        default_factory=list,
        validate_default=True,  # no file part at all is RAGFlow's "No file part!"
        description=f"The files (repeat the part; up to {MAX_FILES_PER_REQUEST:,} per request), "
        "each named by its part's `filename` (at most 255 bytes; a path is cut to its last "
        "component). The type comes from the extension, else from the content.",
    ),
]


@router.post(
    "",
    summary="Upload documents",
    form_limits={"max_files": MAX_FILES_PER_REQUEST, "max_fields": MAX_FILES_PER_REQUEST},
)
def upload_documents(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId, file: Files
) -> Result[list[UploadedDocument]]:
    """Store the files as new documents of the dataset, with its chunk method (pictures,
    audio, slides and mail get their own) and `parser_config`; a name already taken gets
    `(1)`, `(2)`…. One unsupported file refuses the whole request (code 500, one line per
    file) and nothing is stored. Documents are not parsed until asked."""
    return Result(data=documents.upload_documents(runtime, caller, dataset_id, file))


@router.get("", summary="List documents")
def list_documents(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    query: Annotated[ListDocuments, Query()],
) -> Result[DocumentPage]:
    """One page of the dataset's documents, filtered by name, id, suffix, parse state,
    creation time and `meta_fields`, with how many match in all."""
    with runtime.read() as session:
        return Result(data=documents.list_documents(session, caller, dataset_id, query))


@router.put("/{document_id}", summary="Update a document")
def update_document(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    document_id: DocumentId,
    request: Annotated[UpdateDocument, Body(default_factory=UpdateDocument)],
) -> Result[DocumentPublic]:
    """Rename, enable or disable a document, replace its `meta_fields`, merge into its
    `parser_config` or give it another chunk method (which drops its chunks). Only the
    dataset's owner may; the first failed check is the answer and nothing changes."""
    return Result(data=documents.update_document(runtime, caller, dataset_id, document_id, request))


@router.get(
    "/{document_id}",
    summary="Download a document",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The stored file, byte for byte, with the media type of its "
            "extension and `Content-Disposition: attachment; filename*=UTF-8''<name>`; or an "
            "error envelope.",
            "content": {
                "*/*": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
            },
        }
    },
)
def download_document(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: DatasetId, document_id: DocumentId
) -> StreamingResponse:
    """The document's original file as it was uploaded; only the dataset's owner may."""
    return file_download(documents.open_document(runtime, caller, dataset_id, document_id))


@router.delete("", summary="Delete documents")
def delete_documents(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    request: Annotated[DeleteDocuments, Body(default_factory=DeleteDocuments)],
) -> Ok | Result[BatchOutcome]:
    """Delete the named documents (none named: all of the dataset's) with their chunks and
    files. Unknown ids are reported (code 102) after the others are deleted; a repeated id
    is reported with the count of those deleted."""
    outcome = documents.delete_documents(runtime, caller, dataset_id, request.ids)
    return partial_result(outcome.succeeded, outcome.errors)
