"""Short-lived secrets of sign-in steps (OAuth states, captchas, reset codes), in the database.

A step begun on one server process may end on another (several servers behind a balancer), so
nothing of it lives in process memory. Each row is found by a digest of what the client holds
(``lookup``), is used once (``take`` deletes it) and dies at ``expires_time``; expired rows are
swept whenever a new one is written.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ragserve.db.models import AuthChallenge
from ragserve.timeutil import now_ms


class ChallengeKind(StrEnum):
    OAUTH_STATE = "oauth_state"
    CAPTCHA = "captcha"
    RESET_CODE = "reset_code"
    RESET_VERIFIED = "reset_verified"


def lookup_of(value: str) -> str:
    """The digest that finds a row: the SHA-256 of the value the client holds."""
    return hashlib.sha256(value.encode()).hexdigest()


def put(
    session: Session, kind: ChallengeKind, lookup: str, payload: dict[str, Any], lifetime: int
) -> AuthChallenge:
    """A new challenge, replacing any of the same kind and lookup; expired rows go too."""
    now = now_ms()
    session.execute(delete(AuthChallenge).where(AuthChallenge.expires_time <= now))
    session.execute(
        delete(AuthChallenge).where(AuthChallenge.kind == kind, AuthChallenge.lookup == lookup)
    )
    row = AuthChallenge(
        kind=kind, lookup=lookup, payload=payload, expires_time=now + lifetime * 1000
    )
    session.add(row)
    session.flush()
    return row


def find(session: Session, kind: ChallengeKind, lookup: str) -> AuthChallenge | None:
    """The live challenge, left in place (``None`` once expired)."""
    row = session.scalars(
        select(AuthChallenge).where(AuthChallenge.kind == kind, AuthChallenge.lookup == lookup)
    ).first()
    if row is None or row.expires_time <= now_ms():
        return None
    return row


def take(session: Session, kind: ChallengeKind, lookup: str) -> AuthChallenge | None:
    """The live challenge, deleted so that it serves once. The delete is the guard: of two
    requests racing for one row, only the one whose delete removed it gets it."""
    row = find(session, kind, lookup)
    if row is None:
        return None
    if not discard(session, row):
        return None
    return row


def discard(session: Session, row: AuthChallenge) -> bool:
    """Delete the row; ``False`` when another request deleted it first."""
    removed = session.execute(delete(AuthChallenge).where(AuthChallenge.id == row.id))
    return bool(getattr(removed, "rowcount", 0) == 1)


def count_attempt(session: Session, row: AuthChallenge) -> int:
    """One more wrong answer to the row (counted in the database, so racing guesses all
    count); the new total."""
    session.execute(
        update(AuthChallenge)
        .where(AuthChallenge.id == row.id)
        .values(attempts=AuthChallenge.attempts + 1)
    )
    session.refresh(row)
    return row.attempts
