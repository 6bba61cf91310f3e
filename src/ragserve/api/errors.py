"""The one place where exceptions become responses."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragserve.api.body import MALFORMED_JSON
from ragserve.api.envelope import error_body, openai_error_body
from ragserve.api.validation import format_validation_errors
from ragserve.errors import (
    ArgumentError,
    DifyError,
    InternalError,
    InvalidRequest,
    OpenAIBadRequest,
    RagserveError,
    RetCode,
    as_openai_error,
)
from ragserve.schemas.common import FIXED_MESSAGE

logger = logging.getLogger("ragserve.api")

DIFY_PREFIX = "/api/v1/dify/"
"""Dify's route family answers errors with its own body (see ``_dify_body``)."""
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})
EARLY_PREFIX = "/v1/api/"
"""The early API's routes answer ``retcode``/``retmsg`` instead of ``code``/``message``."""
OPENAI_ROUTES = ("/api/v1/chats_openai/", "/api/v1/agents_openai/")
"""Route families that answer errors as OpenAI does: a real HTTP status, OpenAI's body."""


def is_openai_route(path: str) -> bool:
    return path.startswith(OPENAI_ROUTES)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagserveError, _ragserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _ragserve_error(request: Request, error: RagserveError) -> JSONResponse:
    path = request.url.path
    body = error_body(error, path)
    if isinstance(error, InternalError) and error.http_status >= 500:
        # the detail (and the traceback) for the log; the client gets the id to quote
        request_id = getattr(request.state, "request_id", "")
        logger.error(
            "%s, request id %s: %s %s: %s",
            type(error).__name__,
            request_id,
            request.method,
            path,
            error.detail,
            exc_info=error,
        )
        body["message"] = f"{error.message.rstrip('.')} (request id {request_id})."
    if is_openai_route(path):
        openai = as_openai_error(error)
        return JSONResponse(
            openai_error_body(openai, body["message"]), status_code=openai.http_status
        )
    if path.startswith(DIFY_PREFIX):
        body = _dify_body(error, body)
    if path.startswith(EARLY_PREFIX):
        body = {"retcode": body["code"], "retmsg": body["message"], "data": body.get("data")}
    return JSONResponse(body, status_code=error.http_status)


def _dify_body(error: RagserveError, body: dict[str, Any]) -> dict[str, Any]:
    """Dify's route family: RAGFlow's ``code``/``message``, and Dify's ``error_code``/
    ``error_msg`` beside them when Dify defines a code for the failure (auth, unknown
    knowledge); the HTTP status is the error's (403, 404, 500; 200 for argument errors)."""
    if isinstance(error, DifyError) and error.error_code is not None:
        body |= {"error_code": error.error_code, "error_msg": body["message"]}
    return body


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors: Sequence[Mapping[str, Any]] = error.errors()
    whole = _whole_request_error(errors)
    if whole is not None:
        return await _ragserve_error(request, whole)
    # an ArgumentError like any other, so that /v1 routes' envelopes carry their ``data``
    return await _ragserve_error(request, ArgumentError(format_validation_errors(errors)))


def _whole_request_error(errors: Sequence[Mapping[str, Any]]) -> RagserveError | None:
    """Failures that RAGFlow reports with a text of their own rather than ``Field: …`` lines:
    a fixed message raised by a model, an unreadable body, a body that is not an object. (A
    body of another content type never gets here: ``api.body`` refuses it on strict routes and
    reads it as form fields on the others.)"""
    for failure in errors:
        if failure["type"] == FIXED_MESSAGE:
            context = failure["ctx"]
            if "openai_code" in context:  # OpenAI's error code for an OpenAI-compatible route
                return OpenAIBadRequest(str(context["message"]), error_code=context["openai_code"])
            code = RetCode(int(context["code"]))
            if "data" in context:
                return InvalidRequest(str(context["message"]), code, data=context["data"])
            return InvalidRequest(str(context["message"]), code)
    for failure in errors:
        kind, loc, value = failure["type"], tuple(failure["loc"]), failure.get("input")
        if kind == "json_invalid" or (loc == ("body",) and kind == "missing"):
            return ArgumentError(MALFORMED_JSON)
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
    status = error.status_code
    if status == 404 and "//" in path:
        # An empty id (``/chats//sessions``): RAGFlow merges the slashes and reaches a route
        # that does not take the method, so the answer is "Method Not Allowed".
        status = 405
    if status == 404:
        body = {
            "code": int(RetCode.NOT_FOUND),
            "message": f"Not Found: {path}",
            "data": None,
            "error": "Not Found",
        }
    elif status == 405:
        body = {
            "code": int(RetCode.EXCEPTION_ERROR),
            "message": f"Method Not Allowed: {request.method} {path}",
            "data": None,
            "error": "Method Not Allowed",
        }
    else:
        body = {"code": int(RetCode.EXCEPTION_ERROR), "message": str(error.detail), "data": None}
    return JSONResponse(body, status_code=status, headers=error.headers)
