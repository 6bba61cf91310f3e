"""``POST /api/v1/chats/{chat_id}/completions`` (spec 2.7, stream format 4.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import Result, event_stream, sse_events
from ragserve.api.openapi import event_stream_responses
from ragserve.schemas.completions import CompletionAnswer, CompletionRequest, StreamEvent
from ragserve.services import chat_turns, completions

router = APIRouter(prefix="/api/v1/chats", tags=["completions"], route_class=RagflowRoute)
OPEN_A_SESSION = CompletionRequest()

STREAM_RESPONSES = event_stream_responses(
    StreamEvent,
    "`stream: false`: the answer. Otherwise server-sent events, each `data:` and a "
    "`StreamEvent` (no space after `data:`) whose `data` is a `CompletionAnswer`: answer "
    "deltas, the final event with the reference, then `true`.",
    json_model=Result[CompletionAnswer],
)


@router.post(
    "/{chat_id}/completions",
    response_model=None,
    responses=STREAM_RESPONSES,
    summary="Ask a chat assistant",
)
def chat_completion(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: Annotated[str, Path(description="The chat's id.")],
    body: Annotated[CompletionRequest, Body()] = OPEN_A_SESSION,
) -> Result[CompletionAnswer] | StreamingResponse:
    """Ask the assistant in a session: it searches its datasets and answers with its model,
    citing passages as `[ID:n]`; the question and answer are stored in the session. Without
    `session_id` a session is opened instead and only its opener is answered.

    Streamed (the default), the text comes in deltas of about 16 tokens; reasoning comes
    between `start_to_think` and `end_to_think` events; chats with datasets end with a `final`
    event holding the reference (the stream loses the citations the server inserts: the
    stored answer has them). A failure is an event with code 500."""
    assistant = completions.load_assistant(runtime, caller, chat_id)
    if not body.session_id:
        opening = chat_turns.open_session(runtime, caller, chat_id, body)
        if not body.stream:
            return Result(data=opening)
        return event_stream(sse_events(chat_turns.opening_events(opening)))
    turn = chat_turns.start_turn(runtime, assistant, body.session_id, body)
    if body.stream:
        return event_stream(sse_events(turn.events()))
    return Result(data=turn.collect())
