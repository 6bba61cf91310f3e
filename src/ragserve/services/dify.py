"""Dify's external knowledge API (spec 6, clients 3): its authorization and its retrieval, a
plain hybrid search of one dataset at vector weight 0.3, answered as Dify's records."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ragserve.errors import (
    AuthenticationError,
    DifyAuthorizationError,
    DifySearchFailed,
    InternalError,
    KnowledgeNotFound,
    RagserveError,
)
from ragserve.runtime import Runtime
from ragserve.schemas.dify import DifyRecords, DifyRetrievalRequest
from ragserve.services import retrieval
from ragserve.services.auth import authenticate_api_key
from ragserve.services.datasets import get_visible
from ragserve.services.retrieval import SearchOptions
from ragserve.services.tenancy import Caller

VECTOR_WEIGHT = 0.3
BAD_HEADER = "Invalid Authorization header format. Expected 'Bearer <api-key>'."


def authenticate(session: Session, authorization: str | None) -> Caller:
    """``Authorization: Bearer <api-key>``: Dify's 1001 for another shape, 1002 for an
    unknown key (both HTTP 403)."""
    if not authorization or len(authorization.split()) != 2:
        raise DifyAuthorizationError(BAD_HEADER, 1001)
    try:
        return authenticate_api_key(session, authorization)
    except AuthenticationError:
        raise DifyAuthorizationError("API-KEY is invalid!", 1002) from None


def retrieve(runtime: Runtime, caller: Caller, request: DifyRetrievalRequest) -> DifyRecords:
    """The records of ``request.knowledge_id`` (a dataset the caller can see, else 2001) most
    similar to the query; a failing model is HTTP 500."""
    with runtime.read() as session:
        if get_visible(session, caller, request.knowledge_id) is None:  # another tenant's too
            raise KnowledgeNotFound("Knowledgebase not found!")
        scope = retrieval.resolve_scope(
            session,
            caller,
            [request.knowledge_id],
            [],
            request.metadata_condition,
            scopes=runtime.caches.metadata_scopes,
        )
    setting = request.retrieval_setting
    options = SearchOptions(
        page_size=setting.top_k,
        top_k=setting.top_k,
        similarity_threshold=setting.score_threshold,
        vector_similarity_weight=VECTOR_WEIGHT,
    )
    try:
        result = retrieval.search(runtime, scope, request.query, options)
        if request.use_kg:
            result = retrieval.with_graph(runtime, scope, request.query, result)
    except InternalError:
        raise  # already a 500 whose detail is logged
    except RagserveError as error:
        raise DifySearchFailed(error.message) from error
    metadata = retrieval.document_metadata(runtime, [hit.chunk.document_id for hit in result.hits])
    return DifyRecords.model_validate(
        {
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
    )
