"""RAGFlow's response envelopes (spec 0.3) as response models. Errors are raised, never built.

A route declares ``response_model=Result[X]`` (``/api/v1``), ``WebResult[X]`` (``/v1``) or ``Ok``
and returns the envelope. Every error, whatever the route, is an ``ErrorBody`` (see
``api/errors.py``); ``api/openapi.py`` documents it next to each route's own model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ragserve.errors import OpenAIError, RagserveError

if TYPE_CHECKING:
    from ragserve.services.documents import DocumentFile

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


class FlagResult(BaseModel, Generic[DataT]):
    """Success of the memory API (RAGFlow's ``get_json_result(message=True, data=…)``):
    ``message`` is ``true``, or a text such as ``"All add to task."``; ``data`` may be null."""

    code: int = Field(0, description="0 on success.")
    message: bool | str = True
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


class EarlyErrorBody(BaseModel):
    """A failure of the early API's ``/v1/api`` routes: its old field names."""

    retcode: int = Field(description="RAGFlow's RetCode.")
    retmsg: str
    data: Any = None


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="`invalid_request_error` or `api_error`.")
    param: str | None = None
    code: str | None = Field(
        description="`invalid_api_key`, `model_not_found`, `missing_required_parameter` or null."
    )


class OpenAIErrorBody(BaseModel):
    """A failure of an OpenAI-compatible route, with a real HTTP status (400, 401, 404, 502)."""

    error: OpenAIErrorDetail


def openai_error_body(error: OpenAIError, message: str) -> dict[str, Any]:
    detail = OpenAIErrorDetail(message=message, type=error.error_type, code=error.error_code)
    return OpenAIErrorBody(error=detail).model_dump()


SSE_HEADERS = {"Cache-control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}
SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"


def sse(payload: Any) -> str:
    """One event as RAGFlow writes it: ``data:`` without a space, ``json.dumps`` defaults."""
    return "data:" + json.dumps(payload, ensure_ascii=False) + "\n\n"


def sse_events(events: Iterable[BaseModel]) -> Iterator[str]:
    """Each event model as one ``data:`` event (a plain generator: see ``event_stream``)."""
    for event in events:
        yield sse(event.model_dump(mode="json"))


def event_stream(lines: Iterable[str]) -> StreamingResponse:
    """A server-sent event stream. ``lines`` must be a plain (sync) iterable: Starlette then
    iterates it in the thread pool, so work done between events never blocks the event loop."""
    return StreamingResponse(lines, media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)


def partial_result(succeeded: int, errors: list[str]) -> Ok | Result[BatchOutcome]:
    """A batch where some items failed: RAGFlow answers code 0 with a count and the errors."""
    if not errors:
        return Ok()
    return Result(data=BatchOutcome(success_count=succeeded, errors=errors))


def is_web_path(path: str) -> bool:
    """``/v1``, the admin API and the file manager answer ``{code, message, data}`` on every
    error."""
    return path.startswith(("/v1/", "/api/v1/admin/", "/api/v1/file/"))


def error_body(error: RagserveError, path: str) -> dict[str, Any]:
    """Error envelope: web routes always carry ``data``; API routes only when the error has it."""
    body: dict[str, Any] = {"code": int(error.code), "message": error.message}
    if error.has_data:
        body["data"] = error.data
    elif is_web_path(path):
        body["data"] = None
    return body


def file_download(stored: DocumentFile) -> StreamingResponse:
    """A stored document's file as an attachment under its name."""
    disposition = f"attachment; filename*=UTF-8''{quote(stored.name, safe='')}"
    return StreamingResponse(
        stored.content,
        media_type=stored.media_type,
        headers={"Content-Disposition": disposition, "Content-Length": str(stored.size)},
        # a client that stops reading leaves the file open until this runs
        background=BackgroundTask(stored.content.close),
    )
