"""How RAGFlow reads request bodies, on top of FastAPI's own reading.

Two kinds of handler (spec 0.5, 0.6):

* strict (dataset create, update, delete): the body must say ``application/json``; an empty
  body is malformed JSON. Such a route declares ``dependencies=JSON_ONLY``.
* every other handler: an empty body is ``{}``, and a body of any other content type is read as
  its form fields (none, for a type that is not a form). ``RagflowRoute``, the route class of
  every router, gives FastAPI such a body as JSON before it validates it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from ragserve.errors import ArgumentError

JSON = "application/json"
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


async def require_json_content(request: Request) -> None:
    """For the routes that RAGFlow validates strictly (spec 0.6): a JSON body must say so.
    Declared in a route's ``dependencies``, it runs before FastAPI validates the body."""
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip() != JSON:
        raise ArgumentError(
            f"Unsupported content type: Expected application/json, got {content_type}"
        )


JSON_ONLY = [Depends(require_json_content)]


class RagflowRoute(APIRoute):
    """A route whose JSON body, if it has one, is read as RAGFlow's non-pydantic handlers read
    it (see the module's docstring); strict and file-upload routes are left as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self._reads_a_loose_json_body():
            return handler

        async def read_as_ragflow(request: Request) -> Response:
            return await handler(await _as_json(request))

        return read_as_ragflow

    def _reads_a_loose_json_body(self) -> bool:
        if self.body_field is None:
            return False
        strict = any(d.call is require_json_content for d in self.dependant.dependencies)
        is_form = getattr(self.body_field.field_info, "media_type", JSON) != JSON
        return not strict and not is_form


async def _as_json(request: Request) -> Request:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if media_type in ("", JSON):
        if raw.strip():
            return request  # FastAPI reads it (and answers malformed JSON as RAGFlow does)
        body = b"{}"
    elif media_type in FORMS:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        body = json.dumps(fields).encode()
    else:
        body = b"{}"  # RAGFlow reads the form fields of any other type: there are none
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    scope = {**request.scope, "headers": [*headers, (b"content-type", JSON.encode())]}
    rewritten = Request(scope, request.receive)
    rewritten._body = body  # what Starlette's Request.body() returns once read
    return rewritten
