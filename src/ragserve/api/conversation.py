"""``/v1/conversation/mindmap``: the search page's mind map of a question for a web login (the
same as the embedded page's ``/api/v1/searchbots/mindmap``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.bots import MindMapNode, SearchAskRequest
from ragserve.services import search_bots

router = APIRouter(prefix="/v1/conversation", tags=["search apps"], route_class=RagflowRoute)


@router.post("/mindmap", summary="Draw a mind map of a question")
def mindmap(
    runtime: RuntimeDep, caller: WebCaller, body: Annotated[SearchAskRequest, Body()]
) -> WebResult[MindMapNode]:
    """A mind map of the passages found for the question over `kb_ids` (a saved app's
    `search_id` applies its config), drawn by the chat model: `{"id", "children": [...]}`."""
    return WebResult(data=search_bots.mindmap(runtime, caller, body))
