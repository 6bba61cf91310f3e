"""``/api/v1/chats/{chat_id}/sessions``: a chat's sessions (spec 2.6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, partial_result
from ragserve.schemas.chats import (
    CreateSession,
    DeleteIds,
    ListSessions,
    SessionPublic,
    UpdateSession,
)
from ragserve.services import chat_sessions

router = APIRouter(
    prefix="/api/v1/chats/{chat_id}/sessions", tags=["sessions"], route_class=RagflowRoute
)

ChatId = Annotated[str, Path(description="The chat's id.")]
SessionId = Annotated[str, Path(description="The session's id.")]
DEFAULT_SESSION = CreateSession()
NO_CHANGES = UpdateSession()
ALL_IDS = DeleteIds()


@router.post("", summary="Open a session")
def create_session(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    body: Annotated[CreateSession, Body()] = DEFAULT_SESSION,
) -> Result[SessionPublic]:
    """A new session of the caller's chat; its first message is the chat's opener."""
    with runtime.transaction() as session:
        return Result(data=chat_sessions.create_session(session, caller, chat_id, body))


@router.put("/{session_id}", summary="Rename a session")
def update_session(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    session_id: SessionId,
    body: Annotated[UpdateSession, Body()] = NO_CHANGES,
) -> Ok:
    """Change the session's `name` or `user_id`; the conversation cannot be changed."""
    with runtime.transaction() as session:
        chat_sessions.update_session(session, caller, chat_id, session_id, body)
    return Ok()


@router.get("", summary="List sessions")
def list_sessions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    query: Annotated[ListSessions, Query()],
) -> Result[list[SessionPublic]]:
    """One page of the chat's sessions with their messages; each answer carries the passages
    it was based on in `reference`."""
    with runtime.read() as session:
        return Result(data=chat_sessions.list_sessions(session, caller, chat_id, query))


@router.delete("", summary="Delete sessions")
def delete_sessions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    body: Annotated[DeleteIds, Body()] = ALL_IDS,
) -> Ok | Result[BatchOutcome]:
    """Delete the named sessions of the chat (none named: all of them). Unknown ids are
    reported: all unknown is an error (102), some unknown a partial success."""
    with runtime.transaction() as session:
        outcome = chat_sessions.delete_sessions(session, caller, chat_id, body.ids)
    return partial_result(outcome.succeeded, outcome.errors)
