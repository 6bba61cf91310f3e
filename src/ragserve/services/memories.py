"""Memories (RAGFlow 0.23's ``memory`` table and ``/api/v1/memories``): create, update, delete,
list, show, and the views of their messages that every memory route shares.

Who sees what: a memory is the caller's when its tenant is the caller's; a memory of a team the
caller joined is visible (read, search, add messages) when its ``permissions`` is ``team``. Only
its own tenant updates or deletes it. A memory the caller may not see answers exactly as one
that does not exist (``Memory '<id>' not found.``), so other tenants' ids stay hidden.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ragserve.db.memory_models import Memory, MemoryMessage
from ragserve.db.models import User
from ragserve.errors import ArgumentError, ResourceNotFound
from ragserve.rag.prompt import memory_extract_prompt
from ragserve.schemas.memories import (
    MEMORY_TYPES,
    CreateMemory,
    ListMemories,
    MemoryPage,
    MemoryPublic,
    MessagePublic,
    UpdateMemory,
    type_bits,
    type_names,
)
from ragserve.services.tenancy import Caller, member_tenant_ids
from ragserve.timeutil import rfc1123

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def not_found(memory_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Memory '{memory_id}' not found.")


def visible_to(session: Session, caller: Caller) -> ColumnElement[bool]:
    """Memories of the caller's tenant, and team memories of the teams it joined."""
    tenants = member_tenant_ids(session, caller)
    clause: ColumnElement[bool] = Memory.tenant_id.in_(tenants) & (
        (Memory.tenant_id == caller.tenant_id) | (Memory.permissions == "team")
    )
    return clause


def visible(session: Session, caller: Caller, memory_id: str) -> Memory:
    found = session.scalars(
        select(Memory).where(Memory.id == memory_id, visible_to(session, caller))
    ).first()
    if found is None:
        raise not_found(memory_id)
    return found


def visible_memories(session: Session, caller: Caller, memory_ids: list[str]) -> list[Memory]:
    """Those of ``memory_ids`` the caller sees, in the order asked (others left out)."""
    rows = session.scalars(
        select(Memory).where(Memory.id.in_(memory_ids), visible_to(session, caller))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in dict.fromkeys(memory_ids) if i in by_id]


def own(session: Session, caller: Caller, memory_id: str, *, lock: bool = False) -> Memory:
    """The caller's own memory; ``lock`` holds its row until the transaction ends."""
    statement = select(Memory).where(Memory.id == memory_id, Memory.tenant_id == caller.tenant_id)
    found = session.scalars(statement.with_for_update() if lock else statement).first()
    if found is None:
        raise not_found(memory_id)
    return found


def used_size(session: Session, memory_id: str) -> int:
    """Bytes the memory's messages take (content and vectors)."""
    total = session.scalar(
        select(func.coalesce(func.sum(MemoryMessage.size), 0)).where(
            MemoryMessage.memory_id == memory_id
        )
    )
    return int(total or 0)


def public(session: Session, row: Memory) -> MemoryPublic:
    owner = session.get(User, row.tenant_id)
    return MemoryPublic(
        id=row.id,
        name=row.name,
        avatar=row.avatar,
        tenant_id=row.tenant_id,
        owner_name=owner.nickname if owner else "",
        memory_type=type_names(row.memory_type),
        storage_type=row.storage_type,
        embd_id=row.embd_id,
        llm_id=row.llm_id,
        permissions=row.permissions,
        description=row.description,
        memory_size=row.memory_size,
        forgetting_policy=row.forgetting_policy,
        temperature=row.temperature,
        system_prompt=row.system_prompt,
        user_prompt=row.user_prompt,
        create_time=row.create_time,
        create_date=rfc1123(row.create_date) or "",
        update_time=row.update_time,
        update_date=rfc1123(row.update_date) or "",
    )


def default_system_prompt(bits: int) -> str:
    kinds = [name for name in type_names(bits) if name != "raw"]
    return memory_extract_prompt(kinds) if kinds else ""


def create(session: Session, caller: Caller, request: CreateMemory) -> MemoryPublic:
    bits = type_bits(request.memory_type)
    row = Memory(
        tenant_id=caller.tenant_id,
        name=request.name,
        memory_type=bits,
        embd_id=request.embd_id,
        llm_id=request.llm_id,
        system_prompt=default_system_prompt(bits),
    )
    session.add(row)
    session.flush()
    return public(session, row)


def update(session: Session, caller: Caller, memory_id: str, request: UpdateMemory) -> MemoryPublic:
    """Apply the changed values; a memory with messages keeps its embedding model and types
    (RAGFlow's 101 ``Can't update [...] when memory isn't empty.``). A default system prompt
    follows a change of types unless a prompt is given."""
    row = own(session, caller, memory_id)
    changes: dict[str, object] = {}
    for key in sorted(request.model_fields_set):
        value = getattr(request, key)
        if key == "memory_type":
            value = type_bits(request.memory_type or [])
        elif key in ("system_prompt", "user_prompt") and value is None:
            value = ""
        if value != getattr(row, key):
            changes[key] = value
    if not changes:
        return public(session, row)
    blocked = [k for k in ("embd_id", "memory_type") if k in changes]
    if blocked and used_size(session, row.id) > 0:
        raise ArgumentError(f"Can't update {blocked!r} when memory isn't empty.")
    if (
        "memory_type" in changes
        and "system_prompt" not in changes
        and row.system_prompt == default_system_prompt(row.memory_type)
    ):
        changes["system_prompt"] = default_system_prompt(int(str(changes["memory_type"])))
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    return public(session, row)


def delete(session: Session, caller: Caller, memory_id: str) -> None:
    """The memory and its messages (the foreign key cascades; deleted here too for SQLite
    connections without foreign keys). The memory's row is locked first, as a finishing
    extraction locks it."""
    row = own(session, caller, memory_id, lock=True)
    session.query(MemoryMessage).filter(MemoryMessage.memory_id == row.id).delete()
    session.delete(row)
    session.flush()


def list_memories(session: Session, caller: Caller, query: ListMemories) -> MemoryPage:
    statement = select(Memory).where(visible_to(session, caller))
    if query.tenant_id:
        statement = statement.where(Memory.tenant_id.in_(query.tenant_id))
    if query.memory_type:
        bits = type_bits([t for t in query.memory_type if t in MEMORY_TYPES])
        statement = statement.where(Memory.memory_type.op("&")(bits) != 0)
    if query.storage_type:
        statement = statement.where(Memory.storage_type == query.storage_type)
    if query.keywords:
        statement = statement.where(
            func.lower(Memory.name).contains(query.keywords.lower(), autoescape=True)
        )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(Memory.update_time.desc(), Memory.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    ).all()
    return MemoryPage(memory_list=[public(session, r) for r in rows], total_count=int(total))


def stamp(moment: datetime | None) -> str | None:
    return moment.strftime(DATE_FORMAT) if moment else None


def message_view(row: MemoryMessage) -> MessagePublic:
    return MessagePublic(
        message_id=row.id,
        message_type=row.message_type,
        source_id=row.source_id,
        memory_id=row.memory_id,
        user_id=row.user_id,
        agent_id=row.agent_id,
        session_id=row.session_id,
        content=row.content,
        valid_at=stamp(row.valid_at),
        invalid_at=stamp(row.invalid_at),
        forget_at=stamp(row.forget_at),
        status=row.status,
    )
