"""A turn of a conversation with an agent (``POST /api/v1/agents/{id}/completions``, spec
ragflow-api 2.9 and 4.3; the OpenAI-compatible route builds on it too).

``start_turn`` finds the agent and the session (or opens one), loads the session's own DSL and
returns an ``AgentTurn``: its canvas events as the API sends them, streamed (``stream``: only
``message``, ``message_end`` and ``node_finished``) or collected (``collect``: the last event
with the whole text and the references). When the turn ends, however it ends (the client may go
away), the session stores the question, what was said, the reference, the error if any and
the DSL with the conversation's new state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from ragserve.agent import dsl as agent_dsl
from ragserve.agent.runner import Run, RunCall, RunEvent
from ragserve.db.models import AgentSession
from ragserve.errors import DataError
from ragserve.runtime import Runtime
from ragserve.schemas.agents import AgentCompletionRequest, AgentEvent
from ragserve.services.agent_cancel import RUNNING
from ragserve.services.agent_environment import TenantEnvironment
from ragserve.services.agents import new_session, owned_agent
from ragserve.services.tenancy import Caller
from ragserve.timeutil import new_id
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)

STREAMED = ("message", "message_end", "node_finished")
"""The events the native endpoint streams (RAGFlow drops the others there)."""


def start_turn(
    runtime: Runtime, caller: Caller, agent_id: str, body: AgentCompletionRequest
) -> AgentTurn:
    """The turn the body asks for; raises when the agent or the session is not the caller's
    or the DSL cannot run."""
    with runtime.transaction() as session:
        agent = owned_agent(session, caller, agent_id)
        if agent is None:
            raise DataError("You do not own the agent.")
        if body.session_id:
            row = session.scalars(
                select(AgentSession).where(
                    AgentSession.id == body.session_id,
                    AgentSession.agent_id == agent.id,
                    AgentSession.tenant_id == caller.tenant_id,
                )
            ).first()
            if row is None:
                raise DataError("Session not found!")
        else:
            row = new_session(session, agent, body.user_id or "")
        session_id, dsl, tenant_id = row.id, row.dsl, agent.tenant_id
    graph = agent_dsl.load(dsl)
    call = RunCall(
        query=body.text,
        inputs=dict(body.inputs),
        files=list(body.files),
        user_id=body.user_id or "",
        time_limit=runtime.settings.agent_run_timeout,
        allow_private_urls=runtime.settings.allow_private_urls,
        cancel=threading.Event(),
    )
    environment = TenantEnvironment(
        runtime, tenant_id, agent_id=agent_id, session_id=session_id, user_id=call.user_id
    )
    run = Run(graph, environment, call)
    return AgentTurn(runtime, agent_id, session_id, run, body.text, body.return_trace)


class AgentTurn:
    def __init__(
        self,
        runtime: Runtime,
        agent_id: str,
        session_id: str,
        run: Run,
        question: str,
        return_trace: bool = False,
    ) -> None:
        self.runtime = runtime
        self.agent_id = agent_id
        self.session_id = session_id
        self.run = run
        self.question = question
        self.return_trace = return_trace
        self.message_id = new_id()
        self.started = time.monotonic()
        self.trace: list[dict[str, Any]] = []
        self.cancel = run.call.cancel or threading.Event()
        self._stored = False

    def _wrap(self, event: RunEvent) -> AgentEvent:
        data = event.data
        if event.event == "node_finished" and self.return_trace:
            self.trace.append({"component_id": data.get("component_id"), "trace": [dict(data)]})
            data = {**data, "trace": list(self.trace)}
        return AgentEvent(
            event=event.event,
            message_id=self.message_id,
            created_at=int(time.time()),
            task_id=self.agent_id,
            data=data,
            session_id=self.session_id,
        )

    def events(self) -> Iterator[AgentEvent]:
        """Every canvas event of the turn; the session is stored when they end. An unexpected
        failure of the runner itself ends the events with an error message."""
        try:
            with RUNNING.running(self.agent_id, self.cancel):
                for event in self.run.events():
                    yield self._wrap(event)
        except Exception:
            logger.exception("agent %s, session %s: the run failed", self.agent_id, self.session_id)
            self.run.error = "Internal error while running the agent; see the server log."
            text = f"**ERROR**: {self.run.error}"
            self.run.answer_parts.append(text)
            yield self._wrap(RunEvent("message", {"content": text}))
            yield self._wrap(RunEvent("message_end", {}))
        finally:
            self._store()

    def stream(self) -> Iterator[AgentEvent]:
        """The events the native endpoint streams."""
        for event in self.events():
            if event.event in STREAMED:
                yield event

    def collect(self) -> AgentEvent:
        """The last event (``workflow_finished``, or ``user_inputs`` when the agent waits for a
        form), its ``data`` holding the whole text in ``content`` and the references."""
        last: AgentEvent | None = None
        for event in self.events():
            last = event
        assert last is not None  # a run always ends with an event
        data = {**last.data, "content": self.run.answer, "reference": self.run.reference}
        if self.return_trace:
            data["trace"] = self.trace
        return last.model_copy(update={"data": data})

    def _store(self) -> None:
        if self._stored:
            return
        self._stored = True
        run = self.run
        answer = run.answer
        try:
            dsl = run.dsl()
        except Exception:  # a DSL that cannot be written back keeps the session's old one
            logger.exception("agent session %s: the DSL could not be stored", self.session_id)
            dsl = None
        with self.runtime.transaction() as session:
            row = session.get(AgentSession, self.session_id)
            if row is None:  # deleted meanwhile
                return
            messages = list(row.messages or [])
            if self.question:
                messages.append({"role": "user", "content": self.question, "id": self.message_id})
            messages.append({"role": "assistant", "content": answer, "id": self.message_id})
            row.messages = messages
            row.reference = [*(row.reference or []), run.reference]
            if dsl is not None:
                row.dsl = dsl
            row.errors = run.error
            row.round = (row.round or 0) + 1
            row.duration = (row.duration or 0.0) + (time.monotonic() - self.started)
            row.tokens = (row.tokens or 0) + count_tokens(self.question) + count_tokens(answer)
