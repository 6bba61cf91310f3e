"""Agents started by a webhook (spec ragflow-more A.8, ragflow-api 2.9):
``/api/v1/webhook/{agent_id}`` and its test twin ``/api/v1/webhook_test/{agent_id}``.

An agent takes webhook calls when its Begin has ``mode: "Webhook"``. The Begin's parameters
configure the webhook: ``methods`` (allowed HTTP methods; none listed: any), ``security``
(``services.webhook_security``), ``content_types`` (the one body type accepted), ``schema``
(``{query, headers, body}``, each a JSON-schema-like object whose ``properties`` are kept, cast
to their ``type`` and checked; ``required`` ones must be there, others default by type),
``execution_mode`` and ``response``. The kept values are the Begin's outputs ``query``,
``headers`` and ``body``, so the DSL reads ``{begin@body.<field>}``.

* ``execution_mode: "Immediately"`` (the default): the answer is ``response.status``
  (200-399) with ``response.body_template`` (JSON when it parses as JSON, else text) at once;
  the agent runs in a background thread.
* Otherwise the agent runs during the call, which answers ``{"message": <what the Message
  components said>, "success": true, "code": <the last message_end status, else 200>}`` with
  that code as the HTTP status.

Each call runs a new conversation, stored as an agent session with source ``"webhook"`` (the
sessions list shows it). The test twin also records the run's events for ``webhook_trace``
(``services.webhook_traces``). No caller is authenticated here: the agent's own ``security``
guards it; unknown agents and refusals are HTTP 400 with ``{"code": 400, "message"}``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ragserve.agent import dsl as agent_dsl
from ragserve.agent.runner import Run, RunCall
from ragserve.db.models import Agent
from ragserve.errors import RagserveError, WebhookRefused
from ragserve.runtime import Runtime
from ragserve.schemas.agents import AgentEvent
from ragserve.services import webhook_traces
from ragserve.services.agent_environment import TenantEnvironment
from ragserve.services.agent_runs import AgentTurn
from ragserve.services.agents import AGENT_CANVAS, new_session
from ragserve.services.webhook_security import WebhookRequest, check_security

logger = logging.getLogger(__name__)

IMMEDIATELY = "Immediately"
WEBHOOK_SOURCE = "webhook"


@dataclass(frozen=True)
class WebhookAnswer:
    """What the route sends back: ``content`` as JSON (``None`` is ``null``), or as text when
    ``media_type`` is ``text/plain``."""

    status: int
    content: Any
    media_type: str = "application/json"


def webhook_config(dsl: Any) -> dict[str, Any]:
    """The parameters of the DSL's Webhook-mode Begin; refused when there is none."""
    if not isinstance(dsl, dict):
        raise WebhookRefused("Invalid DSL format.")
    components = dsl.get("components")
    for node in (components or {}).values() if isinstance(components, dict) else []:
        obj = node.get("obj") if isinstance(node, dict) else None
        if not isinstance(obj, dict) or str(obj.get("component_name", "")).lower() != "begin":
            continue
        params = obj.get("params")
        if isinstance(params, dict) and params.get("mode") == "Webhook":
            return params
    raise WebhookRefused("Webhook not configured for this agent.")


# --- the request's values ---------------------------------------------------------------------


def content_type(request: WebhookRequest) -> str:
    return (request.header("Content-Type") or "").split(";")[0].strip().lower()


def parse_body(request: WebhookRequest, form: dict[str, Any] | None) -> Any:
    """The body's values: JSON as JSON, a form's fields (``form``, read by the route), and any
    other body as JSON when it parses, else ``{}``."""
    if form is not None:
        return form
    if not request.body:
        return {}
    try:
        parsed = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if parsed is not None else {}


def default_for(kind: Any) -> Any:
    kind = str(kind or "")
    defaults: dict[str, Any] = {"object": {}, "boolean": False, "number": 0, "string": ""}
    if kind in defaults:
        return defaults[kind]
    return [] if kind.startswith("array") or kind == "file" else None


def cast(value: Any, kind: str) -> Any:
    """A text value converted to ``kind`` (``boolean``, ``number``, ``object``,
    ``array<…>``); other values as they are. Raises ``ValueError`` naming what failed."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if kind == "boolean":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ValueError(f"Cannot convert '{value}' to boolean")
    if kind == "number":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"Cannot convert '{value}' to number") from None
    if kind == "object" or kind.startswith("array"):
        wanted = dict if kind == "object" else list
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, wanted):
            raise ValueError(f"Cannot convert '{value}' to {kind.split('<')[0]}")
        return parsed
    return value


def matches(value: Any, kind: str) -> bool:
    simple: dict[str, Any] = {
        "string": str,
        "number": (int, float),
        "boolean": bool,
        "object": dict,
        "file": list,
    }
    if kind == "number" and isinstance(value, bool):
        return False
    if kind in simple:
        return isinstance(value, simple[kind])
    if kind.startswith("array"):
        if not isinstance(value, list):
            return False
        if "<" in kind and ">" in kind:
            inner = kind[kind.find("<") + 1 : kind.find(">")]
            return all(matches(item, inner) for item in value)
    return True


def extract(data: Any, schema: Any, section: str) -> dict[str, Any]:
    """The values the schema section names, cast and checked, with RAGFlow's messages."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    found = data if isinstance(data, Mapping) else {}
    if section == "headers":  # header names are case-insensitive
        found = {str(k).lower(): v for k, v in found.items()}
    kept: dict[str, Any] = {}
    for name, field_schema in properties.items() if isinstance(properties, dict) else []:
        kind = str((field_schema or {}).get("type") or "") if isinstance(field_schema, dict) else ""
        key = name.lower() if section == "headers" else name
        if key not in found:
            if name in required:
                raise WebhookRefused(f"{section} missing required field: {name}")
            kept[name] = default_for(kind)
            continue
        try:
            value = cast(found[key], kind)
        except ValueError as error:
            raise WebhookRefused(f"{section}.{name} auto-cast failed: {error}") from error
        if not matches(value, kind):
            raise WebhookRefused(
                f"{section}.{name} type mismatch: expected {kind}, got {type(value).__name__}"
            )
        kept[name] = value
    return kept


def request_values(
    config: Mapping[str, Any], request: WebhookRequest, form: dict[str, Any] | None
) -> dict[str, Any]:
    """``{query, headers, body}`` as the schema keeps them."""
    expected = config.get("content_types")
    given = content_type(request)
    if isinstance(expected, str) and expected and given and given != expected.lower():
        raise WebhookRefused(f"Invalid Content-Type: expect '{expected}', got '{given}'")
    schema = config.get("schema") if isinstance(config.get("schema"), dict) else {}
    assert isinstance(schema, dict)
    return {
        "query": extract(request.query, schema.get("query"), "query"),
        "headers": extract(dict(request.headers.items()), schema.get("headers"), "headers"),
        "body": extract(parse_body(request, form), schema.get("body"), "body"),
    }


# --- the call ------------------------------------------------------------------------------


def immediate_answer(response: Mapping[str, Any]) -> WebhookAnswer:
    status = response.get("status", 200)
    try:
        code = int(status)
    except (TypeError, ValueError):
        raise WebhookRefused(f"Invalid response status code: {status}") from None
    if not 200 <= code <= 399:
        raise WebhookRefused(f"Invalid response status code: {code}, must be between 200 and 399")
    template = response.get("body_template", "")
    if template in ("", None):
        return WebhookAnswer(code, None)
    if not isinstance(template, str):
        return WebhookAnswer(code, template)
    try:
        return WebhookAnswer(code, json.loads(template))
    except ValueError:
        return WebhookAnswer(code, template, "text/plain")


def call(
    runtime: Runtime,
    agent_id: str,
    request: WebhookRequest,
    form: dict[str, Any] | None = None,
    *,
    test: bool = False,
) -> WebhookAnswer:
    """Check the call against the agent's webhook configuration and run the agent."""
    with runtime.read() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise WebhookRefused("Canvas not found.")
        if agent.canvas_category != AGENT_CANVAS:
            raise WebhookRefused("Dataflow can not be triggered by webhook.")
        config = webhook_config(agent.dsl)
    methods = config.get("methods") or []
    method = request.method.upper()
    if methods and method not in methods:
        raise WebhookRefused(f"HTTP method '{method}' not allowed for this webhook.")
    security = config.get("security")
    check_security(runtime, agent_id, security if isinstance(security, dict) else {}, request)
    values = request_values(config, request, form)
    response = config.get("response")
    immediately = config.get("execution_mode", IMMEDIATELY) == IMMEDIATELY
    if immediately:
        answer = immediate_answer(response if isinstance(response, dict) else {})
    turn = _start(runtime, agent_id, values)
    trace = webhook_traces.open_trace(runtime, agent_id) if test else None
    if immediately:
        worker = threading.Thread(
            target=_run_quietly, args=(turn, trace), name=f"webhook-{agent_id}", daemon=True
        )
        worker.start()
        return answer
    return _run_and_answer(turn, trace)


def _start(runtime: Runtime, agent_id: str, values: dict[str, Any]) -> AgentTurn:
    with runtime.transaction() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:  # deleted meanwhile
            raise WebhookRefused("Canvas not found.")
        try:
            row = new_session(session, agent, "")
            graph = agent_dsl.load(row.dsl)
        except RagserveError as error:
            raise WebhookRefused(error.message) from error
        row.source = WEBHOOK_SOURCE
        session_id, tenant_id = row.id, agent.tenant_id
    run_call = RunCall(
        user_id=tenant_id, time_limit=runtime.settings.agent_run_timeout, webhook=values
    )
    run = Run(graph, TenantEnvironment(runtime, tenant_id), run_call)
    return AgentTurn(runtime, agent_id, session_id, run, "")


def _traced(turn: AgentTurn, trace: webhook_traces.Trace | None) -> Iterator[AgentEvent]:
    try:
        for event in turn.events():
            if trace is not None:
                trace.add(event.model_dump(mode="json"))
            yield event
    except Exception as error:
        if trace is not None:
            trace.add({"event": "error", "message": str(error), "error_type": type(error).__name__})
            trace.finish(success=False)
        raise
    if trace is not None:
        trace.finish(success=turn.run.error is None)


def _run_quietly(turn: AgentTurn, trace: webhook_traces.Trace | None) -> None:
    try:
        for _ in _traced(turn, trace):
            pass
    except Exception:
        logger.exception("webhook run of agent %s failed", turn.agent_id)


def _run_and_answer(turn: AgentTurn, trace: webhook_traces.Trace | None) -> WebhookAnswer:
    said: list[str] = []
    status: Any = 200
    for event in _traced(turn, trace):
        data = event.data
        if event.event == "message":
            if data.get("start_to_think"):
                said.append("<think>")
            elif data.get("end_to_think"):
                said.append("</think>")
            elif data.get("content"):
                said.append(str(data["content"]))
        elif event.event == "message_end" and data.get("status") not in (None, ""):
            status = data["status"]
    try:
        code = int(status)
    except (TypeError, ValueError):
        code = 0
    if not 100 <= code <= 599:
        message = f"Invalid response status code: {status}"
        return WebhookAnswer(400, {"code": 400, "message": message, "success": False})
    failed = turn.run.error is not None
    if failed:  # the run's **ERROR** is in the message
        code = 500
    return WebhookAnswer(code, {"message": "".join(said), "success": not failed, "code": code})
