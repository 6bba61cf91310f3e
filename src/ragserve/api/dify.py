"""``POST /api/v1/dify/retrieval``: Dify's external knowledge API (spec 6, clients 3).

Register ``http://<host>/api/v1/dify`` as the endpoint in Dify (it appends ``/retrieval``) and a
ragserve API key. Errors carry Dify's ``error_code``/``error_msg`` beside RAGFlow's
``code``/``message``, with the HTTP status both expect.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ragserve.api.body import parse_json_object
from ragserve.api.deps import AuthorizationHeader, RuntimeDep
from ragserve.api.envelope import plain_json
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import retrieval
from ragserve.services.auth import authenticate_api_key
from ragserve.services.datasets import get_visible
from ragserve.services.retrieval import SearchOptions

router = APIRouter(prefix="/api/v1/dify", tags=["dify"])

DEFAULT_TOP_K = 1024
VECTOR_WEIGHT = 0.3
MAX_TOP_K = 10_000


class DifyError(Exception):
    def __init__(
        self, status: int, message: str, error_code: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.code = status if code is None else code

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.error_code is not None:
            body |= {"error_code": self.error_code, "error_msg": self.message}
        return JSONResponse(body, status_code=self.status)


@router.post("/retrieval", response_model=None)
async def dify_retrieval(
    request: Request, runtime: RuntimeDep, authorization: AuthorizationHeader
) -> JSONResponse:
    """Records ``{content, score, title, metadata}`` for Dify's query, best first."""
    try:
        body = _body(await request.body())
        return plain_json(await run_in_threadpool(_retrieve, runtime, authorization, body))
    except DifyError as error:
        return error.response()


def _retrieve(runtime: Runtime, authorization: str | None, body: dict[str, Any]) -> dict[str, Any]:
    if not authorization or len(authorization.split()) != 2:
        raise DifyError(
            403, "Invalid Authorization header format. Expected 'Bearer <api-key>'.", 1001
        )
    with runtime.read() as session:
        try:
            caller = authenticate_api_key(session, authorization)
        except RagserveError:
            raise DifyError(403, "API-KEY is invalid!", 1002) from None
    missing = [name for name in ("knowledge_id", "query") if not body.get(name)]
    if missing:
        message = "required argument are missing: " + "".join(f"{m}; " for m in missing)
        raise DifyError(200, message, code=101)
    knowledge_id, query = body["knowledge_id"], body["query"]
    if not isinstance(knowledge_id, str) or not isinstance(query, str):
        raise DifyError(200, "`knowledge_id` and `query` must be strings.", code=101)
    top_k, threshold = _setting(body.get("retrieval_setting"))
    try:
        condition = parse_metadata_condition(body.get("metadata_condition"))
    except RagserveError as error:
        raise DifyError(200, error.message, code=int(error.code)) from None
    with runtime.read() as session:
        if get_visible(session, caller, knowledge_id) is None:  # another tenant's: not found
            raise DifyError(404, "Knowledgebase not found!", 2001)
        scope = retrieval.resolve_scope(session, caller, [knowledge_id], [], condition)
    options = SearchOptions(
        page_size=top_k,
        top_k=top_k,
        similarity_threshold=threshold,
        vector_similarity_weight=VECTOR_WEIGHT,
    )
    try:
        result = retrieval.search(runtime, scope, query, options)
    except RagserveError as error:
        raise DifyError(500, error.message) from None
    metadata = retrieval.document_metadata(runtime, [hit.chunk.document_id for hit in result.hits])
    return {
        "records": [
            {
                "content": hit.chunk.content,
                "score": hit.similarity,
                "title": hit.chunk.document_name,
                "metadata": {
                    **metadata.get(hit.chunk.document_id, {}),
                    "doc_id": hit.chunk.document_id,
                },
            }
            for hit in result.hits
        ]
    }


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        return parse_json_object(raw)
    except RagserveError as error:
        raise DifyError(200, error.message, code=int(error.code)) from None


def _setting(raw: object) -> tuple[int, float]:
    """``top_k`` (default 1024) and ``score_threshold`` (default 0) of ``retrieval_setting``."""
    if raw is None:
        return DEFAULT_TOP_K, 0.0
    if not isinstance(raw, dict):
        raise DifyError(200, "`retrieval_setting` must be an object.", code=101)
    top_k = raw.get("top_k", DEFAULT_TOP_K)
    threshold = raw.get("score_threshold", 0.0)
    if top_k is None:
        top_k = DEFAULT_TOP_K
    if threshold is None:
        threshold = 0.0
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise DifyError(
            200, f"`retrieval_setting.top_k` must be an integer from 1 to {MAX_TOP_K}.", code=101
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0.0 <= threshold <= 1.0)
    ):
        raise DifyError(
            200, "`retrieval_setting.score_threshold` must be a number from 0 to 1.", code=101
        )
    return top_k, float(threshold)
