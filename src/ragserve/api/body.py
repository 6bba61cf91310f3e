"""How RAGFlow reads request bodies, on top of FastAPI's own reading.

Two kinds of handler (spec 0.5, 0.6):

* strict (dataset create, update, delete): the body must say ``application/json``; an empty
  body is malformed JSON. Such a route declares ``dependencies=JSON_ONLY``.
* every other handler: an empty body is ``{}``, and a body of any other content type is read as
  its form fields (none, for a type that is not a form). ``RagflowRoute``, the route class of
  every router, gives FastAPI such a body as JSON before it validates it.

Whatever is wrong with a body is answered after the caller is authenticated (a request without
a valid credential learns nothing about what the route takes): ``RagflowRoute`` reads the JSON
body itself, and when it is malformed, of a content type a strict route refuses, or holds a
value that could be stored but never answered (a lone surrogate, too deep a nesting:
``schemas.json_values``), it hands FastAPI ``{}`` and keeps the error for
``_refuse_a_bad_body``, the route's last dependency, which runs after the credential's and
before the body is validated.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from ragserve.api.validation import format_validation_errors
from ragserve.errors import ArgumentError
from ragserve.schemas import json_values
from ragserve.schemas.json_values import MAX_DEPTH

JSON = "application/json"
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
MALFORMED_JSON = "Malformed JSON syntax: Missing commas/brackets or invalid encoding"
_BODY_PROBLEM = "ragserve_body_problem"
"""Key of ``request.state`` under which a body's error waits for ``_refuse_a_bad_body``."""


async def require_json_content(request: Request) -> None:
    """For the routes that RAGFlow validates strictly (spec 0.6): a JSON body must say so.
    Declared in a route's ``dependencies``, it runs before FastAPI validates the body. (Under
    ``RagflowRoute`` the refusal waits until the caller is authenticated, see the module.)"""
    content_type = request.headers.get("content-type")
    if not _is_json(content_type):
        raise ArgumentError(_unsupported(content_type))


JSON_ONLY = [Depends(require_json_content)]


async def _refuse_a_bad_body(request: Request) -> None:
    problem = getattr(request.state, _BODY_PROBLEM, None)
    if isinstance(problem, Exception):
        raise problem


_BODY_CHECK = "_ragserve_body_check"
_BodyCheck = Annotated[None, Depends(_refuse_a_bad_body)]


class RagflowRoute(APIRoute):
    """A route whose JSON body, if it has one, is read as RAGFlow's non-pydantic handlers read
    it (see the module's docstring); strict and file-upload routes keep their own reading.
    A bad body is refused after the route's other dependencies (authentication)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _checking_the_body_last(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reading = self._body_reading()
        if reading is None:
            return handler
        strict = reading == "strict"

        async def read_as_ragflow(request: Request) -> Response:
            if reading == "form":
                return await handler(await _read_form(request))
            return await handler(await _read(request, strict=strict))

        return read_as_ragflow

    def _body_reading(self) -> str | None:
        """``strict``, ``loose``, ``form`` (a file upload) or None (no body)."""
        if self.body_field is None:
            return None
        if getattr(self.body_field.field_info, "media_type", JSON) != JSON:
            return "form"
        strict = any(d.call is require_json_content for d in self.dependant.dependencies)
        return "strict" if strict else "loose"


def _checking_the_body_last(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` with one more dependency, after all of its own: ``_refuse_a_bad_body``.
    FastAPI solves a route's dependencies in the order of its parameters, then validates the
    body, so the credential is checked before the body's error is answered."""
    signature = inspect.signature(endpoint)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return endpoint  # no route of ours takes **kwargs; such a route keeps FastAPI's order
    check = inspect.Parameter(_BODY_CHECK, inspect.Parameter.KEYWORD_ONLY, annotation=_BodyCheck)
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def checked_async(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop(_BODY_CHECK, None)
            return await endpoint(*args, **kwargs)

        checked: Callable[..., Any] = checked_async
    else:

        @functools.wraps(endpoint)
        def checked_sync(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop(_BODY_CHECK, None)
            return endpoint(*args, **kwargs)

        checked = checked_sync
    checked.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), check]
    )
    return checked


async def _read(request: Request, *, strict: bool) -> Request:
    """The request as FastAPI should read it: the body RAGFlow would read, or ``{}`` and the
    error left for ``_refuse_a_bad_body``."""
    content_type = request.headers.get("content-type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    raw = await request.body()
    if strict and not _is_json(content_type):
        return _refused(request, ArgumentError(_unsupported(content_type)))
    if media_type in ("", JSON):
        if not raw.strip():
            return request if strict else _with_body(request, {})
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, too deep
            return _refused(request, ArgumentError(MALFORMED_JSON))
        problem = _value_problem(parsed) if _may_be_unreadable(raw) else None
        if problem is not None:
            return _refused(request, problem)
        request._json = parsed  # what Starlette's Request.json() returns once parsed
        return request
    fields: dict[str, Any] = {}
    if media_type in FORMS:  # RAGFlow reads the form fields of any other type: there are none
        try:
            form = await request.form()
        except HTTPException as error:  # Starlette's answer to a malformed multipart body
            return _refused(request, error)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    problem = _value_problem(fields)
    return _refused(request, problem) if problem is not None else _with_body(request, fields)


async def _read_form(request: Request) -> Request:
    """A file upload: the form read now (FastAPI reuses it), or an empty one and the error
    left for ``_refuse_a_bad_body``."""
    try:
        await request.form()
    except HTTPException as error:
        setattr(request.state, _BODY_PROBLEM, error)
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
        scope = {**request.scope, "headers": [*headers, (b"content-type", FORMS[1].encode())]}
        rewritten = Request(scope, request.receive)
        rewritten._body = b""
        return rewritten
    return request


def _refused(request: Request, problem: Exception) -> Request:
    setattr(request.state, _BODY_PROBLEM, problem)
    return _with_body(request, {})


def _with_body(request: Request, body: dict[str, Any]) -> Request:
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    scope = {**request.scope, "headers": [*headers, (b"content-type", JSON.encode())]}
    rewritten = Request(scope, request.receive)
    rewritten._body = json.dumps(body).encode()  # what Starlette's Request.body() returns
    rewritten._json = body
    return rewritten


def _may_be_unreadable(raw: bytes) -> bool:
    """Cheap: False when the body surely holds no lone surrogate and does not nest too deep."""
    return json_values.may_hold_surrogates(raw) or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip() == JSON


def _unsupported(content_type: str | None) -> str:
    return f"Unsupported content type: Expected application/json, got {content_type}"


def _value_problem(body: Any) -> ArgumentError | None:
    """A 101 naming each field of ``body`` that no response could encode (a lone surrogate)
    or that nests too deep (``schemas.json_values``), or None."""
    errors = [
        {"loc": ("body", *path), "msg": message, "input": value}
        for path, message, value in json_values.problems(body)
    ]
    return ArgumentError(format_validation_errors(errors)) if errors else None
