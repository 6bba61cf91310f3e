"""Asking datasets without an assistant (spec 2.13, stream format 4.5):
``/api/v1/sessions/ask`` and ``/api/v1/sessions/related_questions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import ErrorBody, Result, event_stream, sse_events
from ragserve.api.openapi import event_stream_responses
from ragserve.schemas.completions import AskRequest, RelatedQuestionsRequest, StreamEvent
from ragserve.services import completions

router = APIRouter(prefix="/api/v1/sessions", tags=["ask"], route_class=RagflowRoute)

ASK_RESPONSES = event_stream_responses(
    StreamEvent,
    "Server-sent events, each `data:` and a `StreamEvent` whose `data` is an `AskAnswer`: "
    "text deltas, the final event with the reference, then `true`. A request that cannot be "
    "answered gets the error envelope instead.",
    json_model=ErrorBody,
)


@router.post("/ask", response_model=None, responses=ASK_RESPONSES, summary="Ask datasets")
def ask(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[AskRequest, Body()]
) -> StreamingResponse:
    """An answer from the datasets with the tenant's chat model, streamed; nothing is stored.
    The datasets must be the caller's and parsed."""
    assistant = completions.ad_hoc_assistant(runtime, caller, body.dataset_ids)
    return event_stream(sse_events(completions.ask_events(runtime, assistant, body.question)))


@router.post("/related_questions", summary="Suggest related questions")
def related_questions(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[RelatedQuestionsRequest, Body()]
) -> Result[list[str]]:
    """Search queries related to the question, suggested by the tenant's chat model."""
    return Result(data=completions.related_questions(runtime, caller, body.question, body.industry))
