"""Timestamps in RAGFlow's wire formats: epoch milliseconds and RFC 1123 dates."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def rfc1123(moment: datetime | None) -> str | None:
    """``Mon, 28 Apr 2025 18:40:41 GMT``; naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def new_id() -> str:
    """RAGFlow's id format: a uuid1 as 32 lowercase hex digits."""
    return uuid.uuid1().hex
