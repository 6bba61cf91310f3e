"""The audit log of the admin API: who did what, when, from where, and whether it worked.

Every admin route runs its action inside ``audited``: the entry is written after the action,
in a transaction of its own, so an action that failed is logged too (``outcome`` ``failed``),
and a refused credential is logged as ``refused`` (see ``services.admin.require_admin``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ragserve.db.models import AuditEntry
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.admin import AuditEntryPublic, AuditPage, AuditQuery
from ragserve.timeutil import rfc1123

MAX_TEXT = 255


@dataclass(frozen=True)
class Actor:
    """Who acts: an administrator (or, for a refused attempt, whoever the credential named)."""

    user_id: str
    email: str
    client_address: str = ""


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str = "",
    detail: str = "",
    outcome: str = "ok",
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            actor_email=actor.email[:MAX_TEXT],
            action=action,
            target=target[:MAX_TEXT],
            detail=detail,
            outcome=outcome,
            client_address=actor.client_address[:64],
        )
    )
    session.flush()


def write(runtime: Runtime, actor: Actor, action: str, **fields: str) -> None:
    """``record`` in a transaction of its own."""
    with runtime.transaction() as session:
        record(session, actor, action, **fields)


@contextmanager
def audited(
    runtime: Runtime, actor: Actor, action: str, *, target: str = "", detail: str = ""
) -> Iterator[None]:
    """Run the action in the ``with`` body, then log it: ``ok``, or ``failed`` with the
    client-safe message of the error it raised (which is raised on)."""
    try:
        yield
    except RagserveError as error:
        write(runtime, actor, action, target=target, detail=error.message, outcome="failed")
        raise
    write(runtime, actor, action, target=target, detail=detail)


def list_entries(session: Session, query: AuditQuery) -> AuditPage:
    """Newest first."""
    conditions = []
    if query.action:
        conditions.append(AuditEntry.action == query.action)
    if query.actor:
        conditions.append(func.lower(AuditEntry.actor_email) == query.actor.lower())
    total = session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.create_time.desc(), AuditEntry.id.desc())
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return AuditPage(total=total, entries=[public(row) for row in rows])


def public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        id=entry.id,
        actor_email=entry.actor_email,
        action=entry.action,
        target=entry.target,
        detail=entry.detail,
        outcome=entry.outcome,
        client_address=entry.client_address,
        create_time=entry.create_time,
        create_date=rfc1123(entry.create_date),
    )
