"""``/api/v1/datasets/{dataset_id}/metadata``: summary and batch update (spec 2.2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ragserve.api.body import json_object
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import api_result
from ragserve.errors import ArgumentError
from ragserve.services import metadata

router = APIRouter(prefix="/api/v1/datasets/{dataset_id}/metadata", tags=["metadata"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]


@router.get("/summary")
def metadata_summary(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, body: JsonBody
) -> dict[str, Any]:
    """Key/value histogram of the documents' ``meta_fields`` (optional body ``{"doc_ids"}``)."""
    document_ids = body.get("doc_ids")
    if document_ids is not None and not (
        isinstance(document_ids, list) and all(isinstance(i, str) for i in document_ids)
    ):
        raise ArgumentError("`doc_ids` must be a list of strings.")
    with runtime.read() as session:
        summary = metadata.metadata_summary(session, caller, dataset_id, document_ids)
    return api_result({"summary": summary})


@router.post("/update")
def update_metadata(
    runtime: RuntimeDep, caller: ApiCaller, dataset_id: str, body: JsonBody
) -> dict[str, Any]:
    with runtime.transaction() as session:
        outcome = metadata.update_metadata(session, caller, dataset_id, body)
    return api_result({"updated": outcome.updated, "matched_docs": outcome.matched_docs})
