"""``/v1/canvas``: the agent editor's routes; ragserve has the one that cancels a running
turn (``PUT /v1/canvas/cancel/{task_id}``, the task id being the agent's id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.services.agent_cancel import cancel_agent_turns

router = APIRouter(prefix="/v1/canvas", tags=["agents"], route_class=RagflowRoute)


@router.put("/cancel/{task_id}", summary="Cancel an agent's running turns")
def cancel(
    runtime: RuntimeDep,
    caller: WebCaller,
    task_id: Annotated[str, Path(description="The agent's id (a canvas run's task id).")],
) -> WebResult[bool]:
    """Stop every turn of the agent that is running now: each ends with `**ERROR**: Task has
    been canceled.` at its next component or streamed piece. `data` is `true` whatever ran
    (as in RAGFlow); another tenant's agent is left alone."""
    cancel_agent_turns(runtime, caller, task_id)
    return WebResult(data=True)
