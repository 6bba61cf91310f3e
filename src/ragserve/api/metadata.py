"""``/api/v1/datasets/{dataset_id}/metadata``: summary and batch update (spec 2.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import Result
from ragserve.schemas.metadata import (
    MetadataSummary,
    MetadataUpdated,
    SummaryRequest,
    UpdateMetadata,
)
from ragserve.services import metadata

router = APIRouter(
    prefix="/api/v1/datasets/{dataset_id}/metadata", tags=["metadata"], route_class=RagflowRoute
)

DatasetId = Annotated[str, Path(description="The dataset's id.")]


@router.get("/summary", summary="Summarize document metadata")
def metadata_summary(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    request: Annotated[SummaryRequest, Body(default_factory=SummaryRequest)],
) -> Result[MetadataSummary]:
    """Per key of the documents' `meta_fields`: its most common type and its values (list
    elements one by one) with how many documents hold each. RAGFlow takes the optional
    document filter as a JSON body, even on GET."""
    with runtime.read() as session:
        summary = metadata.metadata_summary(session, caller, dataset_id, request.doc_ids)
    return Result(data=summary)


@router.post("/update", summary="Update document metadata")
def update_metadata(
    runtime: RuntimeDep,
    caller: ApiCaller,
    dataset_id: DatasetId,
    request: Annotated[UpdateMetadata, Body(default_factory=dict, validate_default=True)],
) -> Result[MetadataUpdated]:
    """Set and then delete keys in the `meta_fields` of the selected documents (by id and
    by a metadata condition; none given: all of the dataset's)."""
    with runtime.transaction() as session:
        updated = metadata.update_metadata(session, caller, dataset_id, request.request)
    return Result(data=updated)
