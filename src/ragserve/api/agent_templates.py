"""``GET /v1/canvas/templates``: the agents ragserve ships ready to use (RAGFlow's web route;
a web session or an API key)."""

from __future__ import annotations

from fastapi import APIRouter

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.agent_templates import AgentTemplate
from ragserve.services import agent_templates

router = APIRouter(prefix="/v1/canvas", tags=["agents"], route_class=RagflowRoute)


@router.get("/templates", summary="List agent templates")
def list_templates(caller: WebCaller) -> WebResult[list[AgentTemplate]]:
    """Every template with its DSL: create an agent from one with `POST /api/v1/agents`
    (fill in the Retrieval `kb_ids` first; an empty `llm_id` is the tenant's chat model)."""
    return WebResult(data=agent_templates.list_templates())
