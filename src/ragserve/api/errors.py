"""The one place where exceptions become responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragserve.api.envelope import error_body
from ragserve.api.validation import format_validation_errors
from ragserve.errors import RagserveError, RetCode


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagserveError, _ragserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _ragserve_error(request: Request, error: RagserveError) -> JSONResponse:
    return JSONResponse(error_body(error, request.url.path), status_code=error.http_status)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    body = {
        "code": int(RetCode.ARGUMENT_ERROR),
        "message": format_validation_errors(error.errors()),
    }
    return JSONResponse(body)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    # FastAPI wraps errors raised while it reads a body (such as an oversized one) in a 400.
    if isinstance(error.__cause__, RagserveError):
        return await _ragserve_error(request, error.__cause__)
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
