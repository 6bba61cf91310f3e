"""``/api/v1/agents``: agents, their sessions and their completions (spec 2.9, stream 4.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import (
    BatchOutcome,
    Ok,
    Result,
    WebResult,
    event_stream,
    partial_result,
    sse_events,
)
from ragserve.api.openapi import event_stream_responses
from ragserve.schemas.agents import (
    AgentCompletionRequest,
    AgentEvent,
    AgentPublic,
    AgentSessionCreated,
    AgentSessionPublic,
    CreateAgent,
    CreateAgentSessionQuery,
    ListAgents,
    ListAgentSessions,
    UpdateAgent,
)
from ragserve.schemas.chats import DeleteIds
from ragserve.services import agent_runs, agents

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], route_class=RagflowRoute)

AgentId = Annotated[str, Path(description="The agent's id.")]
NO_CHANGES = UpdateAgent()
ALL_IDS = DeleteIds()
ASK_NOTHING = AgentCompletionRequest()


@router.get("", summary="List agents")
def list_agents(
    runtime: RuntimeDep, caller: ApiCaller, query: Annotated[ListAgents, Query()]
) -> Result[list[AgentPublic]]:
    """One page of the caller's agents with their DSL (oldest first unless `desc`)."""
    with runtime.read() as session:
        return Result(data=agents.list_agents(session, caller, query))


@router.post("", summary="Create an agent")
def create_agent(
    runtime: RuntimeDep, caller: ApiCaller, body: Annotated[CreateAgent, Body()]
) -> WebResult[bool]:
    """Store an agent; `data` is `true` (as in RAGFlow, the id is not returned: list by
    title). The DSL is checked when a session starts or a run begins."""
    with runtime.transaction() as session:
        agents.create_agent(session, caller, body)
    return WebResult(data=True)


@router.put("/{agent_id}", summary="Update an agent")
def update_agent(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    body: Annotated[UpdateAgent, Body()] = NO_CHANGES,
) -> WebResult[bool]:
    """Change the given fields; null ones stay. A new DSL is also stored as a version (the
    newest 20 are kept). Running sessions keep their own copy of the DSL."""
    with runtime.transaction() as session:
        agents.update_agent(session, caller, agent_id, body)
    return WebResult(data=True)


@router.delete("/{agent_id}", summary="Delete an agent")
def delete_agent(runtime: RuntimeDep, caller: ApiCaller, agent_id: AgentId) -> WebResult[bool]:
    """Delete the agent with its sessions and versions."""
    with runtime.transaction() as session:
        agents.delete_agent(session, caller, agent_id)
    return WebResult(data=True)


@router.post("/{agent_id}/sessions", summary="Open a session")
def create_session(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    query: Annotated[CreateAgentSessionQuery, Query()],
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Result[AgentSessionCreated]:
    """A new conversation with the agent (its DSL is checked here), holding its own copy of
    the DSL; the first message is the Begin prologue. The body is ignored, as in RAGFlow."""
    with runtime.transaction() as session:
        return Result(data=agents.create_session(session, caller, agent_id, query.user_id))


@router.get("/{agent_id}/sessions", summary="List sessions")
def list_sessions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    query: Annotated[ListAgentSessions, Query()],
) -> Result[list[AgentSessionPublic]]:
    """One page of the agent's sessions (newest first unless `desc=false`)."""
    with runtime.read() as session:
        return Result(data=agents.list_sessions(session, caller, agent_id, query))


@router.delete("/{agent_id}/sessions", summary="Delete sessions")
def delete_sessions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    body: Annotated[DeleteIds, Body()] = ALL_IDS,
) -> Ok | Result[BatchOutcome]:
    """Delete the named sessions (none named: all of them)."""
    with runtime.transaction() as session:
        outcome = agents.delete_sessions(session, caller, agent_id, body.ids)
    return partial_result(outcome.succeeded, outcome.errors)


STREAM_RESPONSES = event_stream_responses(
    AgentEvent,
    "`stream: false`: the last event with the whole text. Otherwise server-sent events, each "
    "`data:` and an `AgentEvent` (`message`, `message_end`, `node_finished`), then "
    "`data:[DONE]`.",
    json_model=Result[AgentEvent],
    last_event="[DONE]",
)


@router.post(
    "/{agent_id}/completions",
    response_model=None,
    responses=STREAM_RESPONSES,
    summary="Run an agent",
)
def agent_completion(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: AgentId,
    body: Annotated[AgentCompletionRequest, Body()] = ASK_NOTHING,
) -> Result[AgentEvent] | StreamingResponse:
    """One turn of a conversation with the agent, in the session `session_id` (a new one
    without it). Streamed (the default), the text comes as `message` events as the agent
    produces it, each Message component's text ending with `message_end` (with the
    `reference` when the text cites `[ID:n]`); `node_finished` follows each component. A
    failure is a `message` whose content starts with `**ERROR**`. Not streamed, the answer
    is the last event (`workflow_finished`, or `user_inputs` when the agent waits for a form)
    with `data.content` and `data.reference`."""
    turn = agent_runs.start_turn(runtime, caller, agent_id, body)
    if body.stream:
        return event_stream(_with_done(sse_events(turn.stream())))
    return Result(data=turn.collect())


def _with_done(lines: Iterator[str]) -> Iterator[str]:
    yield from lines
    yield "data:[DONE]\n\n"
