"""The embedded chat and agent widgets (spec ragflow-more B.5, ragflow-api 1.7 and 4.5):
``/api/v1/chatbots/{chat_id}/completions|info`` and ``/api/v1/agentbots/{agent_id}/
completions|inputs``, authenticated by an API token's ``beta`` (and nothing else).

The completions are the chat's and the agent's own, for the beta token's tenant: thin
adapters over ``services.chat_turns`` and ``services.agent_runs``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import BetaCaller, RuntimeDep
from ragserve.api.envelope import Result, event_stream, sse_events
from ragserve.api.openapi import event_stream_responses
from ragserve.schemas.agents import AgentCompletionRequest, AgentEvent
from ragserve.schemas.bots import AgentbotInputs, ChatbotCompletionRequest, ChatbotInfo
from ragserve.schemas.completions import CompletionAnswer, StreamEvent
from ragserve.services import agent_runs, bots, chat_turns, completions

router = APIRouter(prefix="/api/v1", tags=["embedded bots"], route_class=RagflowRoute)

ChatId = Annotated[str, Path(description="The chat's id.")]
AgentId = Annotated[str, Path(description="The agent's id.")]
OPEN_A_SESSION = ChatbotCompletionRequest()
ASK_NOTHING = AgentCompletionRequest()

CHAT_RESPONSES = event_stream_responses(
    StreamEvent,
    "As `POST /api/v1/chats/{chat_id}/completions`: `stream: false`, the answer; otherwise "
    "server-sent events (`data:` without a space), answer deltas, the final event, then `true`.",
    json_model=Result[CompletionAnswer],
)
AGENT_RESPONSES = event_stream_responses(
    AgentEvent,
    "`stream: false`: the last event with the whole text. Otherwise server-sent events, "
    "`data:` and every canvas event of the run (`workflow_started`, `node_started`, "
    "`message`, `message_end`, `node_finished`, `user_inputs`, `workflow_finished`), with no "
    "`[DONE]` at the end.",
    json_model=Result[AgentEvent],
)


@router.post(
    "/chatbots/{chat_id}/completions",
    response_model=None,
    responses=CHAT_RESPONSES,
    summary="Ask a chat from its widget",
)
def chatbot_completion(
    runtime: RuntimeDep,
    caller: BetaCaller,
    chat_id: ChatId,
    body: Annotated[ChatbotCompletionRequest, Body()] = OPEN_A_SESSION,
) -> Result[CompletionAnswer] | StreamingResponse:
    """The chat completion of the embedded chat widget: without `session_id` a session is
    opened and its opener answered; with it, the question is answered in the session, as
    `POST /api/v1/chats/{chat_id}/completions` does. Passages are cited only with
    `quote: true`. The chat must belong to the beta token's tenant."""
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


@router.get("/chatbots/{chat_id}/info", summary="Show a chat to its widget")
def chatbot_info(runtime: RuntimeDep, caller: BetaCaller, chat_id: ChatId) -> Result[ChatbotInfo]:
    """The chat's name, icon and opener, and whether it searches the web."""
    with runtime.read() as session:
        return Result(data=bots.chatbot_info(session, caller, chat_id))


@router.post(
    "/agentbots/{agent_id}/completions",
    response_model=None,
    responses=AGENT_RESPONSES,
    summary="Run an agent from its widget",
)
def agentbot_completion(
    runtime: RuntimeDep,
    caller: BetaCaller,
    agent_id: AgentId,
    body: Annotated[AgentCompletionRequest, Body()] = ASK_NOTHING,
) -> Result[AgentEvent] | StreamingResponse:
    """One turn of a conversation with the agent, as `POST /api/v1/agents/{agent_id}/
    completions`, except that the stream carries every canvas event and ends without
    `[DONE]`. The agent must belong to the beta token's tenant."""
    turn = agent_runs.start_turn(runtime, caller, agent_id, body)
    if body.stream:
        return event_stream(sse_events(turn.events()))
    return Result(data=turn.collect())


@router.get("/agentbots/{agent_id}/inputs", summary="Show an agent to its widget")
def agentbot_inputs(
    runtime: RuntimeDep, caller: BetaCaller, agent_id: AgentId
) -> Result[AgentbotInputs]:
    """The agent's title, avatar, Begin input form, prologue and mode."""
    with runtime.read() as session:
        return Result(data=bots.agentbot_inputs(session, caller, agent_id))
