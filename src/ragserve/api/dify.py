"""``POST /api/v1/dify/retrieval``: Dify's external knowledge API (spec 6, clients 3).

Register ``http://<host>/api/v1/dify`` as the endpoint in Dify (it appends ``/retrieval``) and a
ragserve API key. Errors carry Dify's ``error_code``/``error_msg`` beside RAGFlow's
``code``/``message``, with the HTTP status both expect (``api/errors.py`` renders them).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import AuthorizationHeader, RuntimeDep
from ragserve.api.openapi import HTTP_STATUS_ERRORS
from ragserve.schemas.dify import DifyErrorBody, DifyRecords, DifyRetrievalRequest
from ragserve.services import dify
from ragserve.services.tenancy import Caller

router = APIRouter(prefix="/api/v1/dify", tags=["dify"], route_class=RagflowRoute)


def dify_caller(runtime: RuntimeDep, authorization: AuthorizationHeader) -> Caller:
    with runtime.read() as session:
        return dify.authenticate(session, authorization)


DifyCaller = Annotated[Caller, Depends(dify_caller)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": DifyErrorBody,
        "description": "1001: not `Bearer <api-key>`; 1002: unknown key.",
    },
    404: {"model": DifyErrorBody, "description": "2001: no such knowledge (dataset)."},
    500: {"model": DifyErrorBody, "description": "The search failed (a model or the store)."},
}


@router.post(
    "/retrieval",
    summary="Dify: retrieve from a dataset",
    openapi_extra=HTTP_STATUS_ERRORS,
    responses=_ERRORS,
)
def dify_retrieval(
    runtime: RuntimeDep, caller: DifyCaller, request: Annotated[DifyRetrievalRequest, Body()]
) -> DifyRecords | DifyErrorBody:  # the error body: argument errors are HTTP 200, code 101
    """Dify's external knowledge retrieval: the chunks of the dataset `knowledge_id` most
    similar to `query`, best first, at most `retrieval_setting.top_k`, none scoring below
    `retrieval_setting.score_threshold`, each with its document's name and `meta_fields`.
    `metadata_condition` takes RAGFlow's and Dify's forms. A malformed request is answered
    with HTTP 200 and code 101; authorization, an unknown dataset and a failed search with
    HTTP 403, 404 and 500."""
    return dify.retrieve(runtime, caller, request)
