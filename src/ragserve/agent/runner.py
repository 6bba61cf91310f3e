"""Running a loaded DSL for one turn of a conversation (spec ragflow-more A.2 "Execution",
ragflow-api 8.3), as a stream of ``RunEvent``s.

* A new turn sets ``sys.query``, ``sys.user_id``, ``sys.files``, counts
  ``sys.conversation_turns``, adds the question to the history and opens a fresh reference,
  then starts at ``begin``. A turn that answers a UserFillUp resumes the run there instead.
* Components run in batches. The components due (reached by an edge or a route) that nothing
  else due leads to are ready; the ready ones run together, in threads when there are several
  (Message components, which stream to the client, run one after the other). Thus a component
  where branches meet waits for the branches that are still on their way, and independent
  branches run in parallel.
* After a component, the run goes on with its ``_next`` output when it routes (Categorize,
  Switch); where the component decides (``next_ids``: an Iteration or Loop goes to its item,
  the item to its body or, when done, to the parent's ``downstream``, ExitLoop to the Loop's
  ``downstream``); a child (``parent_id``) without ``downstream`` goes back to its parent's
  item; anything else goes on with its ``downstream``. An Iteration's or Loop's
  ``node_finished`` comes when its children are done.
* A failing component is run again ``max_retries`` times, ``delay_after_error`` seconds apart;
  then ``exception_method`` decides: ``goto`` goes on with ``exception_goto``, ``comment``
  goes on downstream with ``exception_default_value`` as the outputs; otherwise the run fails
  with a ``**ERROR**`` message. Every component's outputs carry ``_created_time`` and
  ``_elapsed_time`` (and ``_ERROR`` after a handled failure).
* A UserFillUp pauses the run with a ``user_inputs`` event; ``paused_at`` in the DSL says where.
* The run stops with an error once it passes its time limit, or once it is cancelled
  (``RunCall.cancel``; checked between components and while a Message streams).

``dsl()`` is the DSL to store after the run: the conversation's state (``globals``,
``history``, ``path``, ``retrieval``, ``paused_at``), the Begin form's values and each
component's outputs (in ``params.outputs.<name>.value``, where RAGFlow keeps them).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ragserve.agent.components.base import Component
from ragserve.agent.context import RunContext, TurnState
from ragserve.agent.dsl import Graph
from ragserve.agent.environment import Environment
from ragserve.agent.errors import RunStopped
from ragserve.agent.streaming import StreamedText
from ragserve.errors import RagserveError
from ragserve.schemas.agent_dsl import BEGIN, DEFAULT_GLOBALS

logger = logging.getLogger(__name__)

PARALLEL_COMPONENTS = 5
"""Components of one batch that run at the same time (RAGFlow's thread pool size)."""
PAUSED_AT = "paused_at"
"""The DSL key naming the UserFillUp a conversation waits at (ragserve's own key)."""
CITATION = "[ID:"


@dataclass(frozen=True)
class RunEvent:
    """A canvas event: ``workflow_started``, ``node_started``, ``message``, ``message_end``,
    ``node_finished``, ``user_inputs`` or ``workflow_finished`` and its data."""

    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RunCall:
    """What one call gives a run."""

    query: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    files: list[Any] = field(default_factory=list)
    user_id: str = ""
    time_limit: float = 600.0
    cancel: threading.Event | None = None
    """Set to cancel the run (checked between components and while a Message streams)."""
    allow_private_urls: bool = False
    """Invoke may call loopback, private and link-local addresses."""
    webhook: dict[str, Any] | None = None
    """A webhook call's request (``query``, ``headers``, ``body``): a Webhook-mode Begin's
    outputs."""


@dataclass
class _Outcome:
    outputs: dict[str, Any]
    next_ids: list[str]
    error: str | None = None
    handled: bool = True


def json_safe(value: Any) -> Any:
    """A value as it can be stored and sent: streamed text read whole, the rest as JSON."""
    if isinstance(value, StreamedText):
        return value.text()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


def _shown(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs as a ``node_finished`` event shows them: text still streaming is not there yet."""
    return {
        key: None if isinstance(value, StreamedText) else json_safe(value)
        for key, value in outputs.items()
    }


class Run:
    """One turn of a conversation with an agent. Iterate ``events()`` once."""

    def __init__(self, graph: Graph, environment: Environment, call: RunCall) -> None:
        self.graph = graph
        self.call = call
        dsl = graph.dsl
        globals_ = {**DEFAULT_GLOBALS, **dsl.globals}
        for name, variable in dsl.variables.items():
            globals_.setdefault(f"env.{name}", variable.value)
        self.paused_at: str | None = getattr(dsl, PAUSED_AT, None)
        if self.paused_at not in graph.components:
            self.paused_at = None
        self.state = TurnState(globals=globals_, history=[list(h) for h in dsl.history])
        self.path: list[str] = list(dsl.path) if self.paused_at else []
        self.retrieval = [dict(r) for r in dsl.retrieval]
        self.context = RunContext(
            environment=environment,
            state=self.state,
            deadline=time.monotonic() + call.time_limit,
            inputs=call.inputs,
            time_limit=call.time_limit,
            cancel=call.cancel,
            allow_private_urls=call.allow_private_urls,
            webhook=call.webhook,
        )
        self.answer_parts: list[str] = []
        self.error: str | None = None
        self.waiting = False
        self._last_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- the turn ---------------------------------------------------------------------------

    def _start_turn(self) -> list[str]:
        """Set the turn up; the ids due first."""
        globals_ = self.state.globals
        if self.paused_at is not None:
            if self.call.query:
                globals_["sys.query"] = self.call.query
                self.state.history.append(["user", self.call.query])
            self.state.outputs = self._stored_outputs()
            self.state.reference = self.retrieval[-1] if self.retrieval else self._new_reference()
            return [self.paused_at]
        globals_["sys.query"] = self.call.query
        globals_["sys.user_id"] = self.call.user_id
        globals_["sys.files"] = list(self.call.files)
        globals_["sys.conversation_turns"] = int(globals_.get("sys.conversation_turns") or 0) + 1
        self.state.history.append(["user", self.call.query])
        self.state.reference = self._new_reference()
        return [BEGIN]

    def _new_reference(self) -> dict[str, Any]:
        reference: dict[str, Any] = {"chunks": {}, "doc_aggs": {}}
        self.retrieval.append(reference)
        return reference

    def _stored_outputs(self) -> dict[str, dict[str, Any]]:
        outputs: dict[str, dict[str, Any]] = {}
        for component_id in self.path:
            node = self.graph.dsl.components[component_id]
            stored = node.obj.params.get("outputs") or {}
            outputs[component_id] = {
                name: item.get("value") if isinstance(item, dict) else item
                for name, item in stored.items()
            }
        return outputs

    def events(self) -> Iterator[RunEvent]:
        started = time.time()
        resuming = self.paused_at is not None
        due = self._start_turn()
        yield RunEvent("workflow_started", {"inputs": self.call.inputs})
        try:
            while due:
                self.context.check_deadline()
                ready = [n for n in due if not any(self.graph.before(m, n) for m in due if m != n)]
                due = [n for n in due if n not in ready]
                pausing = [
                    n
                    for n in ready
                    if self.graph.components[n].pauses and not (resuming and n == self.paused_at)
                ]
                resuming = False
                ready = [n for n in ready if n not in pausing]
                next_ids: list[str] = []
                yield from self._batch(ready, next_ids)
                if self.error is not None:
                    break
                if pausing:
                    yield from self._pause(pausing[0])
                    return
                due += [n for n in next_ids if n not in due]
        except RunStopped as stopped:
            yield from self._fail(stopped.message)
        self.paused_at = None
        self._finish()
        outputs = {**self._last_outputs}
        if self.error is not None:
            outputs["_ERROR"] = self.error
        yield RunEvent(
            "workflow_finished",
            {
                "inputs": self.call.inputs,
                "outputs": outputs,
                "elapsed_time": time.time() - started,
                "created_at": started,
            },
        )

    def _batch(self, ready: list[str], next_ids: list[str]) -> Iterator[RunEvent]:
        components = [self.graph.components[n] for n in ready]
        plain = [c for c in components if not c.streams]
        for component in plain:
            yield self._node_started(component)
        if len(plain) > 1:
            workers = min(PARALLEL_COMPONENTS, len(plain))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent") as pool:
                outcomes = list(pool.map(self._execute, plain))
        else:
            outcomes = [self._execute(c) for c in plain]
        for component, outcome in zip(plain, outcomes, strict=True):
            yield from self._finished(component, outcome, next_ids)
            if self.error is not None:
                return
        for component in components:
            if component.streams:
                yield self._node_started(component)
                outcome = yield from self._speak(component)
                yield from self._finished(component, outcome, next_ids)
                if self.error is not None:
                    return

    # --- one component ----------------------------------------------------------------------

    def _node_started(self, component: Component) -> RunEvent:
        return RunEvent(
            "node_started",
            {
                "inputs": None,
                "created_at": time.time(),
                "component_id": component.id,
                "component_name": self.graph.dsl.display_name(component.id),
                "component_type": component.component_name,
                "thoughts": "",
            },
        )

    def _execute(self, component: Component) -> _Outcome:
        params = component.params
        started = time.time()
        error = ""
        for attempt in range(params.max_retries + 1):
            try:
                outputs = component.run(self.context)
            except RunStopped:
                raise
            except RagserveError as failure:
                error = failure.message
            except Exception:
                logger.exception("agent component %s failed", component.id)
                error = f"{component.component_name} {component.id} failed: internal error."
            else:
                outputs = {
                    **outputs,
                    "_created_time": started,
                    "_elapsed_time": time.time() - started,
                }
                return _Outcome(outputs, self._next(component, outputs))
            if attempt < params.max_retries:
                self.context.check_deadline()
                time.sleep(
                    min(
                        params.delay_after_error, max(0.0, self.context.deadline - time.monotonic())
                    )
                )
        return self._handled(component, error, started)

    def _handled(self, component: Component, error: str, started: float) -> _Outcome:
        params = component.params
        times = {"_created_time": started, "_elapsed_time": time.time() - started, "_ERROR": error}
        if params.exception_method == "goto" and params.exception_goto:
            return _Outcome(times, list(params.exception_goto), error)
        if params.exception_method == "comment":
            outputs = {**component.default_outputs(), **times}
            return _Outcome(outputs, list(component.node.downstream), error)
        return _Outcome(times, [], error, handled=False)

    def _next(self, component: Component, outputs: dict[str, Any]) -> list[str]:
        if component.routes:
            chosen = outputs.get("_next") or []
            return [chosen] if isinstance(chosen, str) else list(chosen)
        decided = component.next_ids(self.context, outputs)
        if decided is not None:
            return decided
        start = component.parent.loop_start() if component.parent is not None else None
        if not component.node.downstream and start is not None:
            return [start]  # the end of a pass: the parent's item decides what comes next
        return list(component.node.downstream)

    def _speak(self, component: Component) -> Generator[RunEvent, None, _Outcome]:
        """Run a Message: its text as ``message`` events, then ``message_end``."""
        started = time.time()
        said: list[str] = []
        thinking = False
        try:
            for piece in component.stream(self.context):
                self.context.check_deadline()
                if piece.reasoning != thinking:
                    thinking = piece.reasoning
                    marker = "start_to_think" if thinking else "end_to_think"
                    yield RunEvent("message", {"content": "", marker: True})
                if not piece.text:
                    continue
                if not piece.reasoning:
                    said.append(piece.text)
                yield RunEvent("message", {"content": piece.text})
            if thinking:
                yield RunEvent("message", {"content": "", "end_to_think": True})
        except RunStopped:
            raise
        except RagserveError as failure:
            return self._handled(component, failure.message, started)
        except Exception:
            logger.exception("agent component %s failed", component.id)
            return self._handled(
                component, f"Message {component.id} failed: internal error.", started
            )
        text = "".join(said)
        self.answer_parts.append(text)
        end: dict[str, Any] = {}
        status = getattr(component.params, "status", None)
        if status is not None:
            end["status"] = status
        if CITATION in text and self.state.reference.get("chunks"):
            end["reference"] = json_safe(self.state.reference)
        attach = getattr(component, "attachment", None)  # Message's output_format
        try:
            attachment = attach(self.context, text) if callable(attach) else None
        except Exception:
            logger.exception("agent component %s failed to make its attachment", component.id)
            return self._handled(
                component, f"Message {component.id} failed: internal error.", started
            )
        if attachment:
            end["attachment"] = attachment
        yield RunEvent("message_end", end)
        outputs: dict[str, Any] = {
            "content": text,
            "_created_time": started,
            "_elapsed_time": time.time() - started,
        }
        if attachment:
            outputs["attachment"] = attachment
        return _Outcome(outputs, self._next(component, outputs))

    def _finished(
        self, component: Component, outcome: _Outcome, next_ids: list[str]
    ) -> Iterator[RunEvent]:
        self.state.outputs[component.id] = outcome.outputs
        self.path.append(component.id)
        if component.id == BEGIN:
            self._keep_form_values(outcome.outputs)
        if not component.finishes_later or outcome.error is not None:
            yield self._node_finished(component, outcome.outputs, outcome.error)
        parent = component.parent
        if parent is not None and outcome.handled and component.ends_parent(self.context):
            outputs = self.state.outputs.get(parent.id, {})
            outputs["_elapsed_time"] = time.time() - outputs.get("_created_time", time.time())
            yield self._node_finished(parent, outputs, None)
        if not outcome.handled:
            yield from self._fail(outcome.error or "failed")
            return
        next_ids += [n for n in outcome.next_ids if n not in next_ids]

    def _node_finished(
        self, component: Component, outputs: dict[str, Any], error: str | None
    ) -> RunEvent:
        self._last_outputs = _shown(outputs)
        return RunEvent(
            "node_finished",
            {
                "inputs": {},
                "outputs": self._last_outputs,
                "component_id": component.id,
                "component_name": self.graph.dsl.display_name(component.id),
                "component_type": component.component_name,
                "error": error,
                "elapsed_time": outputs.get("_elapsed_time"),
                "created_at": outputs.get("_created_time"),
            },
        )

    def _fail(self, message: str) -> Iterator[RunEvent]:
        self.error = message
        text = f"**ERROR**: {message}"
        self.answer_parts.append(text)
        yield RunEvent("message", {"content": text})
        yield RunEvent("message_end", {})

    def _pause(self, component_id: str) -> Iterator[RunEvent]:
        component = self.graph.components[component_id]
        yield self._node_started(component)
        prompt = getattr(component, "prompt")(self.context)  # noqa: B009 (pausers have it)
        self.paused_at = component_id
        self.waiting = True
        self._finish()
        yield RunEvent("user_inputs", prompt)

    # --- what is stored ---------------------------------------------------------------------

    def _keep_form_values(self, values: dict[str, Any]) -> None:
        form = self.graph.dsl.components[BEGIN].obj.params.get("inputs")
        if isinstance(form, dict):
            for key, value in values.items():
                if isinstance(form.get(key), dict):
                    form[key]["value"] = json_safe(value)

    def _finish(self) -> None:
        """Bring the DSL up to date with the turn's state."""
        with self._lock:
            if not self.waiting and self.answer_parts:
                self.state.history.append(["assistant", self.answer])
            dsl = self.graph.dsl
            for component_id, outputs in self.state.outputs.items():
                params = dsl.components[component_id].obj.params
                stored = params.get("outputs")
                stored = dict(stored) if isinstance(stored, dict) else {}
                for name, value in outputs.items():
                    previous = stored.get(name)
                    kept = previous if isinstance(previous, dict) else {}  # type, ref…
                    stored[name] = {**kept, "value": json_safe(value)}
                params["outputs"] = stored
            dsl.globals = json_safe(self.state.globals)
            dsl.history = self.state.history
            dsl.path = self.path
            dsl.retrieval = json_safe(self.retrieval)
            setattr(dsl, PAUSED_AT, self.paused_at)

    @property
    def answer(self) -> str:
        """Everything the Message components said in this turn."""
        return "".join(self.answer_parts)

    @property
    def reference(self) -> dict[str, Any]:
        return json_safe(self.state.reference) if self.state.reference.get("chunks") else {}

    def dsl(self) -> dict[str, Any]:
        """The DSL to store for the conversation's next turn."""
        dumped: dict[str, Any] = self.graph.dsl.model_dump(mode="json", exclude_unset=True)
        return dumped
