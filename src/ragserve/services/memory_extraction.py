"""The extraction task of one raw turn (queued by ``memory_messages.add``, run by the task
queue's ``memory_extract`` task): the memory's chat model writes the semantic, episodic and
procedural items the memory keeps (a raw-only memory asks nothing), the memory's embedding
model embeds the turn and its items, and the oldest turns are forgotten for good while the
memory is over its ``memory_size`` (FIFO, RAGFlow's only policy).

The raw row carries the task's state (``extraction``: queued, running, done, failed with
``extraction_error``) and the running worker's lease: a turn whose worker died is queued again
by the reaper once the lease ran out (``requeue_abandoned``), and only the attempt holding it
stores its result. A task whose turn or memory was deleted meanwhile does nothing."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ragserve.db.memory_models import Memory, MemoryMessage
from ragserve.errors import RagserveError
from ragserve.models.embedding import normalise_rows
from ragserve.rag.prompt import MEMORY_TURN, memory_extract_prompt
from ragserve.runtime import Runtime
from ragserve.schemas.memories import type_names
from ragserve.services.memories import DATE_FORMAT, used_size
from ragserve.settings import Settings
from ragserve.timeutil import now_ms, utc_now
from ragserve.tokenizer import tokenize_to_text

logger = logging.getLogger("ragserve.memory")
KINDS = ("semantic", "episodic", "procedural")
_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


class ExtractionFailed(RagserveError):
    """The model's answer is not the JSON object asked for."""


def _turn(row: MemoryMessage) -> tuple[str, str]:
    user, _, agent = row.content.removeprefix("User Input: ").partition("\nAgent Response: ")
    return user, agent


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (
        moment.replace(tzinfo=None)
        if moment.tzinfo is None
        else moment.astimezone(utc_now().tzinfo).replace(tzinfo=None)
    )


def parse_items(
    answer: str, kinds: list[str]
) -> list[tuple[str, str, datetime | None, datetime | None]]:
    """``(kind, content, valid_at, invalid_at)`` of each item of the kinds asked for."""
    match = _JSON_OBJECT.search(answer)
    try:
        found = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        raise ExtractionFailed("The memory's chat model did not answer with a JSON object.")
    items = []
    for kind in kinds:
        entries = found.get(kind) or []
        for entry in entries if isinstance(entries, list) else []:
            text = entry.get("content") if isinstance(entry, dict) else entry
            if isinstance(text, str) and text.strip():
                valid = _moment(entry.get("valid_at")) if isinstance(entry, dict) else None
                invalid = _moment(entry.get("invalid_at")) if isinstance(entry, dict) else None
                items.append((kind, text.strip(), valid, invalid))
    return items


def extract(runtime: Runtime, memory: Memory, raw: MemoryMessage) -> list[Any]:
    kinds = [k for k in type_names(memory.memory_type) if k in KINDS]
    if not kinds:
        return []
    user_input, agent_response = _turn(raw)
    now = utc_now().strftime(DATE_FORMAT)
    turn = MEMORY_TURN.format(user_input=user_input, agent_response=agent_response, time=now)
    messages = [{"role": "system", "content": memory.system_prompt or memory_extract_prompt(kinds)}]
    if memory.user_prompt:
        messages.append({"role": "user", "content": memory.user_prompt})
    messages.append({"role": "user", "content": turn})
    chat = runtime.chat_model(memory.llm_id, memory.tenant_id)
    answer = "".join(d.text for d in chat.stream(messages, {"temperature": memory.temperature}))
    return parse_items(answer, kinds)


def lease_ms(settings: Settings) -> int:
    """How long a worker holds a turn's extraction: twice the worst time of its model calls
    (each ``llm_timeout``, retried ``llm_max_retries`` times), plus ``task_lease``."""
    calls = settings.llm_timeout * (settings.llm_max_retries + 1)
    return int((2 * calls + settings.task_lease) * 1000)


def _claim(
    session: Session, message_id: int, lease: int
) -> tuple[Memory, MemoryMessage, int] | None:
    """Take the turn's extraction (queued, or abandoned: its lease ran out) for this worker."""
    now = now_ms()
    taken = session.execute(
        update(MemoryMessage)
        .where(
            MemoryMessage.id == message_id,
            MemoryMessage.source_id == 0,
            (MemoryMessage.extraction == "queued")
            | ((MemoryMessage.extraction == "running") & (MemoryMessage.extraction_lease < now)),
        )
        .values(
            extraction="running",
            extraction_lease=now + lease,
            extraction_attempts=MemoryMessage.extraction_attempts + 1,
        )
    )
    if getattr(taken, "rowcount", 0) != 1:
        return None
    raw = session.get(MemoryMessage, message_id, populate_existing=True)
    memory = session.get(Memory, raw.memory_id) if raw is not None else None
    if raw is None or memory is None:
        return None
    session.expunge(memory)
    session.expunge(raw)
    return memory, raw, raw.extraction_attempts


def _still_mine(session: Session, message_id: int, attempt: int) -> MemoryMessage | None:
    """The turn, locked, when this attempt still holds its extraction."""
    stored = session.get(MemoryMessage, message_id, with_for_update=True, populate_existing=True)
    if stored is None or stored.extraction != "running":
        return None
    return stored if stored.extraction_attempts == attempt else None


def run(runtime: Runtime, message_id: int) -> None:
    """Extract, embed and store the items of the raw turn ``message_id``; then forget the
    oldest turns while the memory is over its size."""
    with runtime.transaction() as session:
        claimed = _claim(session, message_id, lease_ms(runtime.settings))
    if claimed is None:
        return
    memory, raw, attempt = claimed
    try:
        items = extract(runtime, memory, raw)
        texts = [raw.content, *[content for _kind, content, _v, _i in items]]
        vectors = normalise_rows(
            runtime.embedding_model(memory.embd_id, memory.tenant_id).embed(texts)
        )
    except RagserveError as error:
        _fail(runtime, message_id, attempt, error.message)
        return
    except Exception as error:
        logger.exception("memory extraction of message %s failed", message_id)
        _fail(runtime, message_id, attempt, f"Extraction failed: {type(error).__name__}")
        return
    with runtime.transaction() as session:
        # the memory's row first (as deleting it does): finishing turns of one memory take
        # turns, so that FIFO forgetting sees the other's items
        if session.get(Memory, memory.id, with_for_update=True) is None:
            return
        stored = _still_mine(session, message_id, attempt)
        if stored is None:
            return
        stored.embedding = vectors[0].astype(np.float32).tobytes()
        stored.size = len(stored.content.encode()) + len(stored.embedding)
        stored.extraction, stored.extraction_error = "done", ""
        for (kind, content, valid, invalid), vector in zip(items, vectors[1:], strict=True):
            embedding = vector.astype(np.float32).tobytes()
            session.add(
                MemoryMessage(
                    memory_id=memory.id,
                    message_type=kind,
                    source_id=stored.id,
                    user_id=stored.user_id,
                    agent_id=stored.agent_id,
                    session_id=stored.session_id,
                    content=content,
                    tokens=tokenize_to_text(content),
                    embedding=embedding,
                    size=len(content.encode()) + len(embedding),
                    valid_at=valid or stored.valid_at,
                    invalid_at=invalid,
                    status=stored.status,
                    forget_at=stored.forget_at,
                    extraction="done",
                )
            )
        session.flush()
        forget_oldest(session, memory, keep=stored.id)


def forget_oldest(session: Session, memory: Memory, *, keep: int) -> int:
    """Delete the oldest turns (each with its items) while the memory is over its size, never
    the turn ``keep``; how many turns went."""
    gone = 0
    over = used_size(session, memory.id) - memory.memory_size
    while over > 0:
        oldest = session.scalars(
            select(MemoryMessage)
            .where(
                MemoryMessage.memory_id == memory.id,
                MemoryMessage.source_id == 0,
                MemoryMessage.id != keep,
            )
            .order_by(MemoryMessage.id)
            .limit(1)
        ).first()
        if oldest is None:
            break
        rows = list(
            session.scalars(
                select(MemoryMessage).where(
                    MemoryMessage.memory_id == memory.id,
                    or_(MemoryMessage.id == oldest.id, MemoryMessage.source_id == oldest.id),
                )
            )
        )
        over -= sum(r.size for r in rows)
        session.execute(delete(MemoryMessage).where(MemoryMessage.id.in_([r.id for r in rows])))
        session.expire_all()
        gone += 1
    return gone


def _fail(runtime: Runtime, message_id: int, attempt: int, why: str) -> None:
    with runtime.transaction() as session:
        stored = _still_mine(session, message_id, attempt)
        if stored is not None:
            stored.extraction, stored.extraction_error = "failed", why


ABANDONED = "The extraction was abandoned {n} times (its worker stopped)."


def requeue_abandoned(runtime: Runtime) -> None:
    """Queue again the extractions whose worker died (their lease ran out); fail those tried
    ``task_attempts`` times. Run with the ingest reaper."""
    attempts = runtime.settings.task_attempts
    with runtime.transaction() as session:
        rows = session.scalars(
            select(MemoryMessage).where(
                MemoryMessage.source_id == 0,
                MemoryMessage.extraction == "running",
                MemoryMessage.extraction_lease < now_ms(),
            )
        ).all()
        retry = []
        for row in rows:
            if row.extraction_attempts >= attempts:
                row.extraction = "failed"
                row.extraction_error = ABANDONED.format(n=row.extraction_attempts)
            else:
                retry.append(row.id)
    for message_id in retry:
        runtime.queue.submit_memory_extraction(message_id)
    if rows:
        logger.warning("requeued %d abandoned memory extractions", len(retry))
