"""``POST /api/v1/retrieval`` (spec 5): hybrid search over datasets the caller can see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import Result
from ragserve.schemas.retrieval import RetrievalData, RetrievalRequest
from ragserve.services import retrieval

router = APIRouter(prefix="/api/v1", tags=["retrieval"], route_class=RagflowRoute)


@router.post("/retrieval", summary="Search datasets for chunks")
def retrieve(
    runtime: RuntimeDep, caller: ApiCaller, request: Annotated[RetrievalRequest, Body()]
) -> Result[RetrievalData]:
    """The chunks most similar to `question` in the given datasets (and documents), best
    first: full-text and vector similarity fused as
    `(1 - vector_similarity_weight) * term + vector_similarity_weight * vector`, optionally
    reranked, those below `similarity_threshold` dropped, then paged. Every dataset must be
    visible to the caller and all must share one embedding model."""
    return Result(data=retrieval.retrieve(runtime, caller, request))
