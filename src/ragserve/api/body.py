"""Reading JSON request bodies the way RAGFlow's handlers expect them (spec 0.5 and 0.6)."""

from __future__ import annotations

import json
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from ragserve.api.errors import MALFORMED_JSON
from ragserve.api.validation import validation_error
from ragserve.errors import ArgumentError

ModelT = TypeVar("ModelT", bound=BaseModel)


async def require_json_content(request: Request) -> None:
    """For the routes that RAGFlow validates strictly (spec 0.6): a JSON body must say so.
    Declared in a route's ``dependencies``, it runs before FastAPI validates the body."""
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip() != "application/json":
        raise ArgumentError(
            f"Unsupported content type: Expected application/json, got {content_type}"
        )


JSON_ONLY = [Depends(require_json_content)]


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``. Form posts become a dict too."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
    if not raw.strip():
        return {}
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ArgumentError(MALFORMED_JSON) from error
    if not isinstance(payload, dict):
        raise ArgumentError(
            f"Invalid request payload: expected object, got {type(payload).__name__}"
        )
    return payload


async def strict_json(request: Request, model: type[ModelT]) -> ModelT:
    """Strict pydantic validation of a JSON body (spec 0.6): JSON content type required,
    no coercion, unknown keys rejected, errors as ``Field: … - Message: …`` lines."""
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip() != "application/json":
        raise ArgumentError(
            f"Unsupported content type: Expected application/json, got {content_type}"
        )
    raw = await request.body()
    if not raw.strip():
        raise ArgumentError(MALFORMED_JSON)
    payload = parse_json_object(raw)
    try:
        return model.model_validate(payload, strict=True)
    except ValidationError as error:
        raise validation_error(error.errors()) from error


def strict_body(model: type[ModelT]) -> Callable[[Request], Awaitable[ModelT]]:
    """A dependency reading a strict JSON body, so that routes can stay synchronous."""

    async def dependency(request: Request) -> ModelT:
        return await strict_json(request, model)

    return dependency


def query_model(model: type[ModelT]) -> Callable[[Request], ModelT]:
    """A dependency validating the query string (lax: strings are coerced) against ``model``."""

    repeatable = {
        name
        for name, field in model.model_fields.items()
        if typing.get_origin(field.annotation) is list
    }

    def dependency(request: Request) -> ModelT:
        params = request.query_params
        data = {
            key: params.getlist(key) if key in repeatable else params.getlist(key)[-1]
            for key in params
        }
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise validation_error(error.errors()) from error

    return dependency


def validate_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Validate already-parsed data (path parameters, a loose body) with ``model``'s messages."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error.errors()) from error
