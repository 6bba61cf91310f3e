"""Messages of memories (``/api/v1/messages`` and a memory's message list): adding a turn
(stored raw at once, its extraction queued: ``services.memory_extraction``), forgetting,
enabling and disabling, the recent turns, one message's content, and the hybrid search.

The search is over a memory's own rows, not the chunk store: memories are small (10 MiB at
most each), so the candidate messages are read from the database and scored in memory, the
term side as the idf-weighted share of the question's terms a message has (ragserve's
tokenizer, as the chunk index tokenizes), the vector side as the cosine of the question's and
the message's vectors, fused ``w * term + (1 - w) * vector`` with RAGFlow's
``keywords_similarity_weight`` as ``w``."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from ragserve.db.memory_models import Memory, MemoryMessage
from ragserve.db.models import Agent
from ragserve.errors import BatchError, InvalidRequest, ResourceNotFound, RetCode
from ragserve.runtime import Runtime
from ragserve.schemas.memories import (
    AddMessage,
    ExtractionTask,
    FoundMessage,
    ListedMessage,
    ListMemoryMessages,
    MemoryMessages,
    MessagePage,
    MessagePublic,
    RecentMessages,
    SearchMessages,
)
from ragserve.services import memories
from ragserve.services.tenancy import Caller
from ragserve.timeutil import utc_now
from ragserve.tokenizer import tokenize, tokenize_to_text

QUEUED_MESSAGE = "All add to task."
RAW = "raw"


def turn_text(user_input: str, agent_response: str) -> str:
    return f"User Input: {user_input}\nAgent Response: {agent_response}"


def add(runtime: Runtime, caller: Caller, request: AddMessage) -> str:
    """Store the turn raw in each memory the caller sees and queue its extraction; memories
    not found fail as RAGFlow's batch does (500, one line each), after the others are kept."""
    content = turn_text(request.user_input, request.agent_response)
    queued: list[int] = []
    with runtime.transaction() as session:
        found = memories.visible_memories(session, caller, request.memory_id)
        missing = [i for i in dict.fromkeys(request.memory_id) if i not in {m.id for m in found}]
        for memory in found:
            row = MemoryMessage(
                memory_id=memory.id,
                message_type=RAW,
                source_id=0,
                user_id=request.user_id,
                agent_id=request.agent_id,
                session_id=request.session_id,
                content=content,
                tokens=tokenize_to_text(content),
                size=len(content.encode()),
                valid_at=utc_now().replace(tzinfo=None),
                extraction="queued",
            )
            session.add(row)
            session.flush()
            queued.append(row.id)
    for message_id in queued:
        runtime.queue.submit_memory_extraction(message_id)
    if missing:
        detail = "; ".join(f"Memory '{i}' not found." for i in missing)
        raise BatchError("Some messages failed to add. Detail:" + detail)
    return QUEUED_MESSAGE


def _message(session: Session, memory: Memory, message_id: str) -> MemoryMessage | None:
    if not message_id.isdigit():
        return None
    return session.scalars(
        select(MemoryMessage).where(
            MemoryMessage.memory_id == memory.id, MemoryMessage.id == int(message_id)
        )
    ).first()


def _with_items(row: MemoryMessage) -> Select[Any]:
    """The message and, for a raw turn, the items extracted from it."""
    which = MemoryMessage.id == row.id
    if row.source_id == 0:
        which = or_(which, MemoryMessage.source_id == row.id)
    return select(MemoryMessage.id).where(MemoryMessage.memory_id == row.memory_id, which)


def forget(session: Session, caller: Caller, memory_id: str, message_id: str) -> bool:
    """Forget a message (and what was extracted from it): it stays listed, with ``forget_at``,
    and is no longer searched or recent."""
    memory = memories.visible(session, caller, memory_id)
    row = _message(session, memory, message_id)
    if row is None:
        raise InvalidRequest(
            f"Failed to forget message '{message_id}' in memory '{memory_id}'.",
            RetCode.SERVER_ERROR,
        )
    ids = list(session.scalars(_with_items(row)))
    session.execute(
        update(MemoryMessage)
        .where(MemoryMessage.id.in_(ids))
        .values(forget_at=utc_now().replace(tzinfo=None))
    )
    return True


def set_status(
    session: Session, caller: Caller, memory_id: str, message_id: str, status: bool
) -> bool:
    """Enable or disable a message (and its extracted items): disabled ones are not searched."""
    memory = memories.visible(session, caller, memory_id)
    row = _message(session, memory, message_id)
    if row is None:
        raise InvalidRequest(
            f"Failed to set status for message '{message_id}' in memory '{memory_id}'.",
            RetCode.SERVER_ERROR,
        )
    ids = list(session.scalars(_with_items(row)))
    session.execute(update(MemoryMessage).where(MemoryMessage.id.in_(ids)).values(status=status))
    return True


def content(session: Session, caller: Caller, memory_id: str, message_id: str) -> MessagePublic:
    memory = memories.visible(session, caller, memory_id)
    row = _message(session, memory, message_id)
    if row is None:
        raise ResourceNotFound(f"Message '{message_id}' in memory '{memory_id}' not found.")
    return memories.message_view(row)


def recent(session: Session, caller: Caller, query: RecentMessages) -> list[MessagePublic]:
    """The newest raw turns of those memories the caller sees (not forgotten), newest first."""
    ids = [m.id for m in memories.visible_memories(session, caller, query.memory_id)]
    if not ids:
        return []
    statement = select(MemoryMessage).where(
        MemoryMessage.memory_id.in_(ids),
        MemoryMessage.source_id == 0,
        MemoryMessage.forget_at.is_(None),
    )
    if query.agent_id:
        statement = statement.where(MemoryMessage.agent_id == query.agent_id)
    if query.session_id:
        statement = statement.where(MemoryMessage.session_id == query.session_id)
    rows = session.scalars(statement.order_by(MemoryMessage.id.desc()).limit(query.limit))
    return [memories.message_view(r) for r in rows]


def _task(row: MemoryMessage) -> ExtractionTask:
    progress = {"done": 1.0, "failed": -1.0}.get(row.extraction, 0.0)
    return ExtractionTask(
        status=row.extraction, progress=progress, progress_msg=row.extraction_error
    )


def listing(
    session: Session, caller: Caller, memory_id: str, query: ListMemoryMessages
) -> MemoryMessages:
    """One page of the memory's raw turns, newest first, each with its extracted items, its
    agent's title and its extraction task."""
    memory = memories.visible(session, caller, memory_id)
    statement = select(MemoryMessage).where(
        MemoryMessage.memory_id == memory.id, MemoryMessage.source_id == 0
    )
    if query.agent_id:
        statement = statement.where(MemoryMessage.agent_id.in_(query.agent_id))
    if query.keywords.strip():
        statement = statement.where(
            func.lower(MemoryMessage.content).contains(
                query.keywords.strip().lower(), autoescape=True
            )
        )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = list(
        session.scalars(
            statement.order_by(MemoryMessage.id.desc())
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
    )
    items: dict[int, list[MessagePublic]] = {}
    if rows:
        for item in session.scalars(
            select(MemoryMessage)
            .where(MemoryMessage.source_id.in_([r.id for r in rows]))
            .order_by(MemoryMessage.id)
        ):
            items.setdefault(item.source_id, []).append(memories.message_view(item))
    agent_ids = {r.agent_id for r in rows if r.agent_id}
    titles = {
        agent_id: title
        for agent_id, title in session.execute(
            select(Agent.id, Agent.title).where(
                Agent.id.in_(agent_ids), Agent.tenant_id == memory.tenant_id
            )
        )
    }
    listed = [
        ListedMessage(
            **memories.message_view(r).model_dump(),
            agent_name=titles.get(r.agent_id, "Unknown"),
            task=_task(r),
            extract=items.get(r.id, []),
        )
        for r in rows
    ]
    return MemoryMessages(
        messages=MessagePage(message_list=listed, total_count=int(total)),
        storage_type=memory.storage_type,
    )


def term_similarities(question: list[str], documents: list[list[str]]) -> list[float]:
    """For each document, the idf-weighted share of the question's distinct terms it has."""
    terms = list(dict.fromkeys(question))
    if not terms or not documents:
        return [0.0] * len(documents)
    count = len(documents)
    frequency: Counter[str] = Counter()
    sets = [set(d) for d in documents]
    for words in sets:
        frequency.update(t for t in terms if t in words)
    idf = {t: math.log(1 + (count - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in terms}
    whole = sum(idf.values())
    return [sum(idf[t] for t in terms if t in words) / whole for words in sets]


def search(runtime: Runtime, caller: Caller, query: SearchMessages) -> list[FoundMessage]:
    """The messages of those memories most like the question (extracted items and raw turns,
    embedded, enabled, not forgotten), best first, at least ``similarity_threshold``."""
    with runtime.read() as session:
        found = memories.visible_memories(session, caller, query.memory_id)
        if not found:
            return []
        statement = select(MemoryMessage).where(
            MemoryMessage.memory_id.in_([m.id for m in found]),
            MemoryMessage.status.is_(True),
            MemoryMessage.forget_at.is_(None),
            MemoryMessage.embedding.is_not(None),
        )
        if query.agent_id:
            statement = statement.where(MemoryMessage.agent_id == query.agent_id)
        if query.session_id:
            statement = statement.where(MemoryMessage.session_id == query.session_id)
        rows = list(session.scalars(statement))
        first = found[0]
    if not rows:
        return []
    question = query.query.strip()
    vector = runtime.question_vector(first.embd_id, first.tenant_id, question)
    vectors = [np.frombuffer(r.embedding or b"", dtype=np.float32) for r in rows]
    vector_scores = [float(np.dot(vector, v)) if v.shape == vector.shape else 0.0 for v in vectors]
    term_scores = term_similarities(tokenize(question), [r.tokens.split() for r in rows])
    weight = query.keywords_similarity_weight
    scored = sorted(
        (
            (weight * term + (1 - weight) * vec, term, vec, row)
            for term, vec, row in zip(term_scores, vector_scores, rows, strict=True)
        ),
        key=lambda s: (-s[0], s[3].id),
    )
    return [
        FoundMessage(
            **memories.message_view(row).model_dump(),
            similarity=round(score, 6),
            term_similarity=round(term, 6),
            vector_similarity=round(vec, 6),
        )
        for score, term, vec, row in scored
        if score >= query.similarity_threshold
    ][: query.top_n]
