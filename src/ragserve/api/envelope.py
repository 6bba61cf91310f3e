"""RAGFlow's response envelopes (spec 0.3) as response models. Errors are raised, never built.

A route declares ``response_model=Result[X]`` (``/api/v1``), ``WebResult[X]`` (``/v1``) or ``Ok``
and returns the envelope. Every error, whatever the route, is an ``ErrorBody`` (see
``api/errors.py``); ``api/openapi.py`` documents it next to each route's own model.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ragserve.errors import RagserveError, RetCode

DataT = TypeVar("DataT")


class Ok(BaseModel):
    """``/api/v1`` success without data: ``{"code": 0}``."""

    code: int = Field(0, description="0 on success.")


class Result(BaseModel, Generic[DataT]):
    """``/api/v1`` success: ``{"code": 0, "data": …}``; never a message."""

    code: int = Field(0, description="0 on success.")
    data: DataT


class WebResult(BaseModel, Generic[DataT]):
    """``/v1`` success: always code, message and data."""

    code: int = Field(0, description="0 on success.")
    message: str = "success"
    data: DataT


class BatchOutcome(BaseModel):
    """A batch where some items failed (RAGFlow answers code 0 with a count and the errors)."""

    success_count: int
    errors: list[str]


class ErrorBody(BaseModel):
    """Any failure: a RAGFlow ``RetCode`` and a message meant for people. Most are HTTP 200,
    as in RAGFlow; ``data`` is present on ``/v1`` routes and on authentication failures."""

    code: int = Field(description="RAGFlow's RetCode: 100 exception, 101 argument, 102 data, …")
    message: str
    data: Any = None


def api_result(data: Any = None) -> dict[str, Any]:
    """``/api/v1`` success: ``{"code": 0}`` plus ``data`` when there is any; never a message."""
    body: dict[str, Any] = {"code": RetCode.SUCCESS}
    if data is not None:
        body["data"] = data
    return body


def partial_result(succeeded: int, errors: list[str]) -> Ok | Result[BatchOutcome]:
    """A batch where some items failed: RAGFlow answers code 0 with a count and the errors."""
    if not errors:
        return Ok()
    return Result(data=BatchOutcome(success_count=succeeded, errors=errors))


def is_web_path(path: str) -> bool:
    return path.startswith("/v1/")


def error_body(error: RagserveError, path: str) -> dict[str, Any]:
    """Error envelope: web routes always carry ``data``; API routes only when the error has it."""
    body: dict[str, Any] = {"code": int(error.code), "message": error.message}
    if error.has_data:
        body["data"] = error.data
    elif is_web_path(path):
        body["data"] = None
    return body
