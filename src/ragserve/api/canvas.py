"""``/v1/canvas``: the agent editor's routes; ragserve has the one that cancels a running
turn (``PUT /v1/canvas/cancel/{task_id}``, the task id being the agent's id) and the one that
uploads a file for a run (``POST /v1/canvas/upload/{agent_id}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, UploadFile

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.agents import CanvasUpload
from ragserve.services import canvas_uploads
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


@router.post("/upload/{agent_id}", summary="Upload a file for an agent's run")
def upload(
    runtime: RuntimeDep,
    caller: WebCaller,
    agent_id: Annotated[str, Path(description="The agent the file is for.")],
    file: Annotated[UploadFile, File(description="The file (at most 64 MB).")],
) -> WebResult[CanvasUpload]:
    """Keep the file for the caller's agent; pass the answer in a completion's `files` (it
    becomes `sys.files`), and components such as ExcelProcessor read it by its `id`."""
    described = canvas_uploads.upload(runtime, caller, agent_id, file.filename or "file", file.file)
    return WebResult(data=CanvasUpload(**described))
