"""Cancelling the turns of an agent that are running (RAGFlow: ``PUT /v1/canvas/cancel/{task
id}`` sets ``{task_id}-cancel`` in Redis; a canvas's task id is its agent's id, so a cancel
stops every turn of the agent that runs at that moment).

ragserve runs agent turns in the server process, so the flags live here: each running turn
registers its run's cancel flag (``RunCall.cancel``) under its agent's id while its events
are read, and ``cancel`` sets them all. The runner checks the flag between components and
while a Message streams, and ends the turn with ``**ERROR**: Task has been canceled.``
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ragserve.runtime import Runtime
from ragserve.services.agents import owned_agent
from ragserve.services.tenancy import Caller


class RunningTurns:
    """The cancel flags of the turns running in this process, by agent id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[str, list[threading.Event]] = {}

    @contextmanager
    def running(self, agent_id: str, flag: threading.Event) -> Iterator[None]:
        """``flag`` is cancelled with the agent's turns while the block runs."""
        with self._lock:
            self._flags.setdefault(agent_id, []).append(flag)
        try:
            yield
        finally:
            with self._lock:
                flags = self._flags.get(agent_id, [])
                if flag in flags:
                    flags.remove(flag)
                if not flags:
                    self._flags.pop(agent_id, None)

    def cancel(self, agent_id: str) -> int:
        """Cancel the agent's running turns; how many there were."""
        with self._lock:
            flags = list(self._flags.get(agent_id, []))
        for flag in flags:
            flag.set()
        return len(flags)


RUNNING = RunningTurns()
"""This process's running turns."""


def cancel_agent_turns(runtime: Runtime, caller: Caller, agent_id: str) -> int:
    """Cancel the running turns of the caller's agent ``agent_id``; another tenant's agent,
    or none, is left alone (and says nothing of whether it exists)."""
    with runtime.read() as session:
        if owned_agent(session, caller, agent_id) is None:
            return 0
    return RUNNING.cancel(agent_id)
