"""``/openapi.json`` as the wire really is: RAGFlow answers most errors with HTTP 200 and an
error envelope, and never with FastAPI's 422, so each operation documents that instead."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ragserve.api.envelope import EarlyErrorBody, ErrorBody

HTTP_STATUS_ERRORS: dict[str, Any] = {"x-ragserve-errors": "http-status"}
"""``openapi_extra`` of routes whose errors are HTTP statuses with a body of their own (the
OpenAI-compatible and Dify routes), not a 200 envelope."""

EARLY_ERRORS: dict[str, Any] = {"x-ragserve-errors": "early"}
"""``openapi_extra`` of the early API's ``/v1/api`` routes: errors in its ``retcode`` envelope."""

_REF_TEMPLATE = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": _REF_TEMPLATE.format(model="ErrorBody")}
_EARLY_ERROR_REF = {"$ref": _REF_TEMPLATE.format(model="EarlyErrorBody")}
_JSON = "application/json"
_EVENT_STREAM = "text/event-stream"


def event_stream_responses(
    event: type[BaseModel],
    description: str,
    json_model: Any = None,
    *,
    last_event: str | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route answering server-sent events whose ``data`` is an ``event`` as
    JSON (then ``last_event`` verbatim, such as OpenAI's ``[DONE]``, when given); and, when
    ``json_model`` is given, a JSON answer of that model otherwise. The schema describes one
    event, ``{"data": <text>}``, as OpenAPI 3.2's ``itemSchema`` does."""
    payload = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": event.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization"),
    }
    data = payload if last_event is None else {"anyOf": [payload, {"const": last_event}]}
    schema = {"type": "object", "properties": {"data": data}, "required": ["data"]}
    response: dict[str, Any] = {
        "description": description,
        "content": {_EVENT_STREAM: {"schema": schema}},
    }
    if json_model is not None:
        response["model"] = json_model
    return {200: response}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _with_error_envelopes(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_error_envelopes(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["ErrorBody"] = ErrorBody.model_json_schema(ref_template=_REF_TEMPLATE)
    components["EarlyErrorBody"] = EarlyErrorBody.model_json_schema(ref_template=_REF_TEMPLATE)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _document_errors(operation)
            _hoist_definitions(operation, components)
    return schema


def _hoist_definitions(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Event models, which FastAPI does not know, bring their own ``$defs``: they join the
    components, and each event model becomes a ``$ref`` to its own component."""
    for response in operation.get("responses", {}).values():
        for content in response.get("content", {}).values():
            _hoist(content.get("schema", {}), components)


def _hoist(node: Any, components: dict[str, Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _hoist(item, components)
    if not isinstance(node, dict):
        return
    model = node.get("contentSchema")
    if isinstance(model, dict):
        for name, definition in model.pop("$defs", {}).items():
            components.setdefault(name, definition)
        title = model.get("title")
        if isinstance(title, str) and "properties" in model:
            components.setdefault(title, model)
            node["contentSchema"] = {"$ref": _REF_TEMPLATE.format(model=title)}
    for key, value in node.items():
        if key != "contentSchema":
            _hoist(value, components)


def _document_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    kind = operation.pop("x-ragserve-errors", None)
    if kind == "http-status":
        return
    error = _EARLY_ERROR_REF if kind == "early" else _ERROR_REF
    ok = responses.get("200", {}).get("content", {}).get(_JSON)
    if ok is not None and ok.get("schema") and ok["schema"] != error:
        ok["schema"] = {"anyOf": [ok["schema"], error]}
    # the early routes' unknown methods and oversized bodies still answer the usual envelope
    default_error = {"anyOf": [error, _ERROR_REF]} if kind == "early" else _ERROR_REF
    responses.setdefault(
        "default",
        {
            "description": "An error the request cannot be answered past (HTTP 401, 404, 405, "
            "413): the error envelope.",
            "content": {_JSON: {"schema": default_error}},
        },
    )
