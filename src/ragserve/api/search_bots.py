"""The embedded search page (spec ragflow-more B.5, D.4; stream ragflow-api 4.5):
``/api/v1/searchbots/ask|retrieval_test|related_questions|detail|mindmap``, authenticated by
an API token's ``beta`` (and nothing else). Logic in ``services/search_bots.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from ragserve.api.ask import ASK_RESPONSES
from ragserve.api.body import RagflowRoute
from ragserve.api.deps import BetaCaller, RuntimeDep
from ragserve.api.envelope import WebResult, event_stream, sse_events
from ragserve.schemas.bots import (
    MindMapNode,
    SearchAskRequest,
    SearchBotRetrieval,
    SearchRelatedRequest,
    SearchRetrievalRequest,
)
from ragserve.schemas.search_apps import DetailQuery, SearchAppDetail
from ragserve.services import search_apps, search_bots

router = APIRouter(prefix="/api/v1/searchbots", tags=["embedded bots"], route_class=RagflowRoute)


@router.post("/ask", response_model=None, responses=ASK_RESPONSES, summary="Ask (search page)")
def ask(
    runtime: RuntimeDep, caller: BetaCaller, body: Annotated[SearchAskRequest, Body()]
) -> StreamingResponse:
    """An answer from the datasets, streamed as `/api/v1/sessions/ask` streams it. With
    `search_id`, the saved app's datasets (when it names some), documents, thresholds,
    rerank model and chat model (`chat_id`) apply."""
    return event_stream(sse_events(search_bots.ask(runtime, caller, body)))


@router.post("/retrieval_test", summary="Search datasets (search page)")
def retrieval_test(
    runtime: RuntimeDep, caller: BetaCaller, body: Annotated[SearchRetrievalRequest, Body()]
) -> WebResult[SearchBotRetrieval]:
    """One page of the chunks most similar to `question` in `kb_id`, as
    `POST /api/v1/retrieval` finds them, in RAGFlow's internal field names."""
    return WebResult(data=search_bots.retrieval_test(runtime, caller, body))


@router.post("/related_questions", summary="Suggest related questions (search page)")
def related_questions(
    runtime: RuntimeDep, caller: BetaCaller, body: Annotated[SearchRelatedRequest, Body()]
) -> WebResult[list[str]]:
    """Search queries related to the question, by the app's chat model or the tenant's."""
    return WebResult(
        data=search_bots.related_questions(runtime, caller, body.question, body.search_id)
    )


@router.get("/detail", summary="Show a search app (search page)")
def detail(
    runtime: RuntimeDep, caller: BetaCaller, query: Annotated[DetailQuery, Query()]
) -> WebResult[SearchAppDetail]:
    """A saved search app of the beta token's tenant (or of a team it joined)."""
    with runtime.read() as session:
        return WebResult(data=search_apps.detail(session, caller, query.search_id))


@router.post("/mindmap", summary="Draw a mind map (search page)")
def mindmap(
    runtime: RuntimeDep, caller: BetaCaller, body: Annotated[SearchAskRequest, Body()]
) -> WebResult[MindMapNode]:
    """A mind map of the passages found for the question, drawn by the chat model:
    `{"id", "children": [...]}` nodes."""
    return WebResult(data=search_bots.mindmap(runtime, caller, body))
