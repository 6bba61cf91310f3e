"""The one place where exceptions become responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragserve.api.envelope import error_body, openai_error_body
from ragserve.api.validation import format_validation_errors
from ragserve.errors import (
    ArgumentError,
    OpenAIBadRequest,
    RagserveError,
    RetCode,
    as_openai_error,
)
from ragserve.schemas.common import FIXED_MESSAGE

MALFORMED_JSON = "Malformed JSON syntax: Missing commas/brackets or invalid encoding"
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})
OPENAI_ROUTES = ("/api/v1/chats_openai/",)
"""Route families that answer errors as OpenAI does: a real HTTP status, OpenAI's body."""


def is_openai_route(path: str) -> bool:
    return path.startswith(OPENAI_ROUTES)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagserveError, _ragserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _ragserve_error(request: Request, error: RagserveError) -> JSONResponse:
    path = request.url.path
    if is_openai_route(path):
        openai = as_openai_error(error)
        return JSONResponse(openai_error_body(openai), status_code=openai.http_status)
    return JSONResponse(error_body(error, path), status_code=error.http_status)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors: Sequence[Mapping[str, Any]] = error.errors()
    whole = _whole_request_error(errors, request.headers.get("content-type"))
    if whole is not None:
        return await _ragserve_error(request, whole)
    if is_openai_route(request.url.path):
        return await _ragserve_error(request, ArgumentError(format_validation_errors(errors)))
    body = {"code": int(RetCode.ARGUMENT_ERROR), "message": format_validation_errors(errors)}
    return JSONResponse(body)


def _whole_request_error(
    errors: Sequence[Mapping[str, Any]], content_type: str | None
) -> RagserveError | None:
    """Failures that RAGFlow reports with a text of their own rather than ``Field: …`` lines:
    a fixed message raised by a model, an unreadable body, a body that is not an object."""
    for failure in errors:
        if failure["type"] == FIXED_MESSAGE:
            context = failure["ctx"]
            if "openai_code" in context:  # OpenAI's error code for an OpenAI-compatible route
                return OpenAIBadRequest(str(context["message"]), error_code=context["openai_code"])
            fixed = RagserveError(str(context["message"]))
            fixed.code = RetCode(int(context["code"]))
            return fixed
    for failure in errors:
        kind, loc, value = failure["type"], tuple(failure["loc"]), failure.get("input")
        if kind == "json_invalid" or (loc == ("body",) and kind == "missing"):
            return ArgumentError(MALFORMED_JSON)
        if loc == ("body",) and isinstance(value, bytes):
            return ArgumentError(
                f"Unsupported content type: Expected application/json, got {content_type}"
            )
        if loc == ("body",) and kind in _NOT_AN_OBJECT:
            return ArgumentError(
                f"Invalid request payload: expected object, got {type(value).__name__}"
            )
    return None


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    # FastAPI wraps errors raised while it reads a body (an oversized one, bad UTF-8) in a 400.
    cause = error.__cause__
    if isinstance(cause, RagserveError):
        return await _ragserve_error(request, cause)
    if isinstance(cause, UnicodeDecodeError | RecursionError):
        return await _ragserve_error(request, ArgumentError(MALFORMED_JSON))
    path = request.url.path
    if error.status_code == 404:
        body = {
            "code": int(RetCode.NOT_FOUND),
            "message": f"Not Found: {path}",
            "data": None,
            "error": "Not Found",
        }
    elif error.status_code == 405:
        body = {
            "code": int(RetCode.EXCEPTION_ERROR),
            "message": f"Method Not Allowed: {request.method} {path}",
            "data": None,
            "error": "Method Not Allowed",
        }
    else:
        body = {"code": int(RetCode.EXCEPTION_ERROR), "message": str(error.detail), "data": None}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)
