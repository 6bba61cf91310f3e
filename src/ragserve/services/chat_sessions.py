"""Sessions of a chat assistant (RAGFlow's conversations): create, list, rename, delete.

A session is reachable only through a live chat of the caller's tenant. The stored row
(``db.models.ChatSession``), which the completion endpoints append to:

* ``messages``: ``[{"role": "user" | "assistant", "content": str, "id": str, "created_at":
  float}]`` (``created_at`` in epoch seconds, as RAGFlow). ``messages[0]`` is the *opener*: an
  assistant message holding the chat's prologue when the session was made. Every question
  then adds a user message and the assistant's answer, which share one ``id``.
* ``answer_references``: one entry per *answer*, in order: the k-th assistant message after the
  opener has ``answer_references[k]``. An entry is ``{"total": n, "chunks": [chunk, …],
  "doc_aggs": [{"doc_name", "doc_id", "count"}, …]}``, or ``{}`` when nothing was retrieved.
  A chunk has at least ``id, content, document_id, document_name, dataset_id, image_id,
  positions`` (``services.completions.reference_chunk``).

RAGFlow lets the opener take the first reference slot, which shifts every reference by one
turn; here the opener has none and each answer shows its own. ``public`` shows a session so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ragserve.db.models import Chat, ChatSession
from ragserve.domain import Validity
from ragserve.errors import DataError
from ragserve.schemas.chats import (
    CreateSession,
    ListSessions,
    SessionMessage,
    SessionPublic,
    UpdateSession,
)
from ragserve.services.batch import BatchOutcome
from ragserve.services.chats import live_chat, resolve_batch
from ragserve.services.tenancy import Caller
from ragserve.timeutil import new_id, rfc1123

MESSAGE_KEYS = ("role", "content", "id", "created_at")


def opener(chat: Chat) -> dict[str, Any]:
    """The first message of a new session: the chat's prologue, said by the assistant."""
    prologue = (chat.prompt_config or {}).get("prologue")
    return {
        "role": "assistant",
        "content": prologue if isinstance(prologue, str) else "",
        "id": new_id(),
        "created_at": time.time(),
    }


def references_by_message(
    messages: Sequence[dict[str, Any]], answer_references: Sequence[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """For each message, the reference of its answer: ``None`` for user messages, ``{}`` for
    the opener and for answers stored without one."""
    result: list[dict[str, Any] | None] = []
    answers = 0
    for index, message in enumerate(messages):
        if message.get("role") == "user":
            result.append(None)
        elif index == 0:
            result.append({})
        else:
            stored = answer_references[answers] if answers < len(answer_references) else {}
            result.append(stored if isinstance(stored, dict) else {})
            answers += 1
    return result


def public(row: ChatSession) -> SessionPublic:
    """The session with its messages; each assistant message carries the chunks its answer
    was based on in ``reference``."""
    messages = row.messages or []
    references = references_by_message(messages, row.answer_references or [])
    shown = []
    for message, reference in zip(messages, references, strict=True):
        fields = {key: message[key] for key in MESSAGE_KEYS if key in message}
        if reference is not None:
            fields["reference"] = reference.get("chunks") or []
        shown.append(SessionMessage.model_validate(fields))
    return SessionPublic(
        id=row.id,
        chat_id=row.chat_id,
        name=row.name,
        user_id=row.user_id,
        messages=shown,
        create_time=row.create_time,
        create_date=rfc1123(row.create_date),
        update_time=row.update_time,
        update_date=rfc1123(row.update_date),
    )


def new_session(session: Session, caller: Caller, chat_id: str, body: CreateSession) -> ChatSession:
    """A new session of the caller's chat, holding the chat's opener."""
    chat = live_chat(session, caller, chat_id)
    if chat is None:
        raise DataError("You do not own the assistant.")
    if not body.name:
        raise DataError("`name` can not be empty.")
    row = ChatSession(
        chat_id=chat.id,
        name=body.name,
        user_id=body.user_id or "",
        messages=[opener(chat)],
        answer_references=[],
    )
    session.add(row)
    session.flush()
    return row


def create_session(
    session: Session, caller: Caller, chat_id: str, body: CreateSession
) -> SessionPublic:
    return public(new_session(session, caller, chat_id, body))


def update_session(
    session: Session, caller: Caller, chat_id: str, session_id: str, body: UpdateSession
) -> None:
    """Rename the session or change its ``user_id``; the conversation cannot be changed."""
    found = session.execute(
        select(ChatSession, Chat.status)
        .join(Chat, Chat.id == ChatSession.chat_id)
        .where(
            ChatSession.id == session_id,
            ChatSession.chat_id == chat_id,
            Chat.tenant_id == caller.tenant_id,
        )
    ).first()
    if found is None:
        raise DataError("Session does not exist")
    row, chat_status = found
    if chat_status != Validity.VALID:
        raise DataError("You do not own the session")
    given = body.model_fields_set
    if "message" in given or "messages" in given:
        raise DataError("`message` can not be change")
    if "reference" in given:
        raise DataError("`reference` can not be change")
    if "name" in given:
        if not body.name:
            raise DataError("`name` can not be empty.")
        row.name = body.name
    if "user_id" in given:
        row.user_id = body.user_id or ""
    session.flush()


def list_sessions(
    session: Session, caller: Caller, chat_id: str, query: ListSessions
) -> list[SessionPublic]:
    if live_chat(session, caller, chat_id) is None:
        raise DataError(f"You don't own the assistant {chat_id}.")
    statement = select(ChatSession).where(ChatSession.chat_id == chat_id)
    if query.id is not None:
        statement = statement.where(ChatSession.id == query.id)
    if query.name is not None:
        statement = statement.where(ChatSession.name == query.name)
    if query.user_id is not None:
        statement = statement.where(ChatSession.user_id == query.user_id)
    column = {
        "create_time": ChatSession.create_time,
        "update_time": ChatSession.update_time,
        "name": ChatSession.name,
    }[query.orderby]
    order = (
        (column.desc(), ChatSession.id.desc())
        if query.desc
        else (column.asc(), ChatSession.id.asc())
    )
    rows = session.scalars(
        statement.order_by(*order).offset((query.page - 1) * query.page_size).limit(query.page_size)
    )
    return [public(row) for row in rows]


def delete_sessions(
    session: Session, caller: Caller, chat_id: str, ids: list[str] | None
) -> BatchOutcome:
    """Delete the named sessions of the chat (none named: all of them)."""
    if live_chat(session, caller, chat_id) is None:
        raise DataError("You don't own the chat")
    existing = session.scalars(select(ChatSession.id).where(ChatSession.chat_id == chat_id)).all()
    found, outcome = resolve_batch(
        ids,
        existing,
        "session",
        lambda session_id: f"The chat doesn't own the session {session_id}",
    )
    session.execute(delete(ChatSession).where(ChatSession.id.in_(found)))
    return outcome
