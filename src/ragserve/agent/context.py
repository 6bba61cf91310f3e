"""What a component sees while it runs: the values of references, the conversation, the
references collected in this turn and the environment (see ``runner.Run``, which builds it)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ragserve.agent import variables
from ragserve.agent.environment import Environment
from ragserve.agent.errors import RunCancelled, RunTimeout

REFERENCE_SLOTS = 500
"""A chunk's key in an agent reference is ``sha1(chunk id) % 500`` (RAGFlow's format)."""


def chunk_key(chunk_id: str) -> int:
    return int(hashlib.sha1(chunk_id.encode()).hexdigest(), 16) % REFERENCE_SLOTS  # noqa: S324


@dataclass
class TurnState:
    """The state of a conversation that a run reads and changes (kept in the session's DSL)."""

    globals: dict[str, Any]
    history: list[list[Any]]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Outputs of the components run in this turn, by component id."""
    reference: dict[str, Any] = field(default_factory=lambda: {"chunks": {}, "doc_aggs": {}})
    """This turn's references: ``{"chunks": {key: chunk}, "doc_aggs": {name: count}}``."""


@dataclass
class RunContext:
    environment: Environment
    state: TurnState
    deadline: float
    """``time.monotonic()`` past which the run stops."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Form values given with this call (Begin's inputs, or a resumed UserFillUp's)."""
    time_limit: float = 0.0
    cancel: threading.Event | None = None
    """Set when the run is cancelled; checked between components and while streaming."""
    allow_private_urls: bool = False
    """Invoke may call loopback, private and link-local addresses."""
    loops: dict[str, Any] = field(default_factory=dict)
    """Per-run state of Iteration and Loop items (their position), by component id."""
    webhook: dict[str, Any] | None = None
    """The request of the webhook call that started the run (``query``, ``headers``, ``body``)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.environment.tenant_id

    @property
    def query(self) -> str:
        return str(self.state.globals.get("sys.query") or "")

    def check_deadline(self) -> None:
        """Stop the run when it was cancelled or went past its time limit."""
        if self.cancel is not None and self.cancel.is_set():
            raise RunCancelled("Task has been canceled.")
        if time.monotonic() > self.deadline:
            raise RunTimeout(f"The agent run exceeded its time limit of {self.time_limit:g} s.")

    def value(self, name: str) -> Any:
        """The value a reference names (None when it names nothing that ran)."""
        key, path = variables.split(name)
        if key.startswith(("sys.", "env.")):
            value = self.state.globals.get(key)
        else:
            component, _, output = key.partition("@")
            value = self.state.outputs.get(component, {}).get(output)
        return variables.walk(value, path) if path else value

    def render(self, text: str) -> str:
        """``text`` with its references replaced by their values."""
        return variables.render(text, self.value)

    def messages_of_history(self, window: int) -> list[dict[str, str]]:
        """The last ``window`` turns of the conversation before this question, as chat
        messages (the current question is the last user entry of the history: left out)."""
        turns = [
            {"role": str(role), "content": variables.as_text(content)}
            for role, content in (entry[:2] for entry in self.state.history if len(entry) >= 2)
            if role in ("user", "assistant")
        ]
        if turns and turns[-1]["role"] == "user":
            turns = turns[:-1]
        return turns[-window:] if window > 0 else []

    def add_reference(
        self, chunks: list[dict[str, Any]], doc_aggs: list[dict[str, Any]]
    ) -> dict[int, dict[str, Any]]:
        """Record chunks found in this turn; returns them by their citation key (``[ID:key]``)."""
        keyed = {chunk_key(str(chunk.get("id"))): chunk for chunk in chunks}
        with self._lock:  # components of one batch run in threads
            self._record(keyed, doc_aggs)
        return keyed

    def _record(self, keyed: dict[int, dict[str, Any]], doc_aggs: list[dict[str, Any]]) -> None:
        stored = self.state.reference.setdefault("chunks", {})
        for key, chunk in keyed.items():
            stored[str(key)] = chunk
        documents = self.state.reference.setdefault("doc_aggs", {})
        for aggregate in doc_aggs:
            name = str(aggregate.get("doc_name"))
            if name in documents:
                documents[name]["count"] += int(aggregate.get("count") or 0)
            else:
                documents[name] = {
                    "doc_name": name,
                    "doc_id": aggregate.get("doc_id"),
                    "count": int(aggregate.get("count") or 0),
                }
