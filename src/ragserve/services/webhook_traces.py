"""The events of test-webhook calls (``/api/v1/webhook_test/{agent_id}``) and their polling
(``GET /api/v1/webhook_trace/{agent_id}``), spec ragflow-api 2.9.

A test call opens a ``Trace``: a ``WebhookTrace`` row whose ``events`` grow as the run goes
(each canvas event with its ``ts``, then ``{"event": "finished", "elapsed_time", "success"}``;
an unexpected failure adds ``{"event": "error", "message", "error_type"}`` first). Events are
written at most every ``FLUSH_EVERY`` seconds, and at the end. Traces older than
``KEPT_SECONDS`` go when a new one opens (RAGFlow keeps them 10 minutes in Redis).

Polling, as RAGFlow's editor does: without ``since_ts`` the answer gives ``next_since_ts`` =
now; with it and no ``webhook_id``, the first call started after ``since_ts`` gets its
``webhook_id`` (no events yet); with both, the events after ``since_ts`` and ``finished``
once the finished event is among them. The trace is read by the agent's tenant only (RAGFlow
answers anyone who knows the agent id).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import delete, select

from ragserve.db.models import WebhookTrace
from ragserve.errors import DataError
from ragserve.runtime import Runtime
from ragserve.schemas.webhooks import WebhookTracePage
from ragserve.services.agents import owned_agent
from ragserve.services.tenancy import Caller

KEPT_SECONDS = 600.0
FLUSH_EVERY = 0.25


class Trace:
    """The recorder of one test call's events."""

    def __init__(self, runtime: Runtime, trace_id: str, started: float) -> None:
        self.runtime = runtime
        self.id = trace_id
        self.started = started
        self._pending: list[dict[str, Any]] = []
        self._flushed = time.monotonic()
        self._lock = threading.Lock()

    def add(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append({"ts": time.time(), **event})
            due = time.monotonic() - self._flushed >= FLUSH_EVERY
        if due:
            self.flush()

    def finish(self, *, success: bool) -> None:
        self.add(
            {"event": "finished", "elapsed_time": time.time() - self.started, "success": success}
        )
        self.flush(finished=True)

    def flush(self, *, finished: bool = False) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._flushed = time.monotonic()
        if not pending and not finished:
            return
        with self.runtime.transaction() as session:
            row = session.get(WebhookTrace, self.id)
            if row is None:  # the agent was deleted meanwhile
                return
            row.events = [*(row.events or []), *pending]
            row.finished = row.finished or finished


def open_trace(runtime: Runtime, agent_id: str) -> Trace:
    started = time.time()
    with runtime.transaction() as session:
        session.execute(
            delete(WebhookTrace).where(
                WebhookTrace.agent_id == agent_id, WebhookTrace.started < started - KEPT_SECONDS
            )
        )
        row = WebhookTrace(agent_id=agent_id, started=started, events=[], finished=False)
        session.add(row)
        session.flush()
        trace_id = row.id
    return Trace(runtime, trace_id, started)


def poll(
    runtime: Runtime,
    caller: Caller,
    agent_id: str,
    since_ts: float | None,
    webhook_id: str | None,
) -> WebhookTracePage:
    with runtime.read() as session:
        if owned_agent(session, caller, agent_id) is None:
            raise DataError("Canvas not found.")
        if since_ts is None:
            return WebhookTracePage(next_since_ts=time.time())
        if webhook_id is None:
            first = session.scalars(
                select(WebhookTrace)
                .where(WebhookTrace.agent_id == agent_id, WebhookTrace.started > since_ts)
                .order_by(WebhookTrace.started)
                .limit(1)
            ).first()
            if first is None:
                return WebhookTracePage(next_since_ts=since_ts)
            return WebhookTracePage(webhook_id=first.id, next_since_ts=first.started)
        row = session.scalars(
            select(WebhookTrace).where(
                WebhookTrace.id == webhook_id, WebhookTrace.agent_id == agent_id
            )
        ).first()
        if row is None:
            return WebhookTracePage(webhook_id=webhook_id, next_since_ts=since_ts, finished=True)
        events = [e for e in row.events or [] if float(e.get("ts", 0)) > since_ts]
        return WebhookTracePage(
            webhook_id=webhook_id,
            events=events,
            next_since_ts=max([since_ts, *(float(e["ts"]) for e in events)]),
            finished=any(e.get("event") == "finished" for e in events),
        )
