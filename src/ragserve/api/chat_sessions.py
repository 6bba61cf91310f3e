"""``/api/v1/chats/{chat_id}/sessions``: a chat's sessions (spec 2.6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ragserve.api.body import json_object, query_model, validate_model
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import BatchOutcome, Ok, Result, api_result, partial_result
from ragserve.db.models import ChatSession
from ragserve.schemas.chats import CreateSession, DeleteIds, ListSessions, UpdateSession
from ragserve.services import chat_sessions
from ragserve.services.chat_sessions import references_by_message
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/api/v1/chats/{chat_id}/sessions", tags=["sessions"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]
MESSAGE_KEYS = ("role", "content", "id", "created_at")
REFERENCE_CHUNK_KEYS = (
    "id", "content", "document_id", "document_name", "dataset_id", "image_id", "positions",
)  # fmt: skip


def session_wire(row: ChatSession) -> dict[str, Any]:
    """The session with its messages; each assistant message carries the chunks its answer
    was based on in ``reference`` (see ``services.chat_sessions``)."""
    messages = row.messages or []
    references = references_by_message(messages, row.answer_references or [])
    shown = []
    for message, reference in zip(messages, references, strict=True):
        item = {key: message[key] for key in MESSAGE_KEYS if key in message}
        if reference is not None:
            item["reference"] = [
                {key: chunk.get(key) for key in REFERENCE_CHUNK_KEYS}
                for chunk in reference.get("chunks") or []
            ]
        shown.append(item)
    return {
        "id": row.id,
        "chat_id": row.chat_id,
        "name": row.name,
        "user_id": row.user_id,
        "messages": shown,
        "create_time": row.create_time,
        "create_date": rfc1123(row.create_date),
        "update_time": row.update_time,
        "update_date": rfc1123(row.update_date),
    }


@router.post("")
def create_session(
    runtime: RuntimeDep, caller: ApiCaller, chat_id: str, body: JsonBody
) -> dict[str, Any]:
    request = validate_model(CreateSession, body)
    with runtime.transaction() as session:
        row = chat_sessions.create_session(session, caller, chat_id, request)
        return api_result(session_wire(row))


@router.put("/{session_id}")
def update_session(
    runtime: RuntimeDep, caller: ApiCaller, chat_id: str, session_id: str, body: JsonBody
) -> dict[str, Any]:
    request = validate_model(UpdateSession, body)
    with runtime.transaction() as session:
        chat_sessions.update_session(session, caller, chat_id, session_id, request)
    return api_result()


@router.get("")
def list_sessions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: str,
    query: Annotated[ListSessions, Depends(query_model(ListSessions))],
) -> dict[str, Any]:
    with runtime.read() as session:
        rows = chat_sessions.list_sessions(session, caller, chat_id, query)
        return api_result([session_wire(row) for row in rows])


@router.delete("")
def delete_sessions(
    runtime: RuntimeDep, caller: ApiCaller, chat_id: str, body: JsonBody
) -> Ok | Result[BatchOutcome]:
    request = validate_model(DeleteIds, body)
    with runtime.transaction() as session:
        outcome = chat_sessions.delete_sessions(session, caller, chat_id, request.ids)
    return partial_result(outcome.succeeded, outcome.errors)
