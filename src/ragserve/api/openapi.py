"""``/openapi.json`` as the wire really is: RAGFlow answers most errors with HTTP 200 and an
error envelope, and never with FastAPI's 422, so each operation documents that instead."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ragserve.api.envelope import ErrorBody

HTTP_STATUS_ERRORS: dict[str, Any] = {"x-ragserve-errors": "http-status"}
"""``openapi_extra`` of routes whose errors are HTTP statuses with a body of their own (the
OpenAI-compatible and Dify routes), not a 200 envelope."""

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_JSON = "application/json"
_EVENT_STREAM = "text/event-stream"
_REF_TEMPLATE = "#/components/schemas/{model}"


def event_stream_responses(
    event: type[BaseModel], description: str, json_model: Any = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route answering server-sent events, each ``data:`` and an ``event``
    (and, when ``json_model`` is given, a JSON answer of that model otherwise)."""
    schema = event.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization")
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
    components["ErrorBody"] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _document_errors(operation)
            _hoist_definitions(operation, components)
    return schema


def _hoist_definitions(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Models that FastAPI does not know (server-sent events) bring their own ``$defs``."""
    for response in operation.get("responses", {}).values():
        for content in response.get("content", {}).values():
            schema = content.get("schema", {})
            for name, definition in schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            title = schema.get("title")
            if isinstance(title, str) and "properties" in schema:
                components.setdefault(title, dict(schema))
                content["schema"] = {"$ref": _REF_TEMPLATE.format(model=title)}


def _document_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if operation.pop("x-ragserve-errors", None) == "http-status":
        return
    ok = responses.get("200", {}).get("content", {}).get(_JSON)
    if ok is not None and ok.get("schema") and ok["schema"] != _ERROR_REF:
        ok["schema"] = {"anyOf": [ok["schema"], _ERROR_REF]}
    responses.setdefault(
        "default",
        {
            "description": "An error the request cannot be answered past (HTTP 401, 404, 405, "
            "413): the error envelope.",
            "content": {_JSON: {"schema": _ERROR_REF}},
        },
    )
