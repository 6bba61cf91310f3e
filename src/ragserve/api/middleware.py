"""ASGI middleware: request ids and the last-resort error handler, trailing slashes, body limit."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragserve.api.envelope import error_body
from ragserve.errors import PayloadTooLarge, RetCode
from ragserve.settings import Settings

logger = logging.getLogger("ragserve.api")

REQUEST_ID_HEADER = "x-request-id"


async def send_json(send: Send, status: int, body: dict[str, Any], request_id: str = "") -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if request_id:
        headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Gives every request an id (echoed in ``X-Request-ID``), tolerates trailing slashes, and
    turns any error that escaped the handlers into a generic message carrying that id: the
    traceback goes to the log, never to the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error, request id %s: %s %s", request_id, scope.get("method"), path
            )
            if not started:
                body = {
                    "code": int(RetCode.EXCEPTION_ERROR),
                    "message": f"Internal server error (request id {request_id}).",
                    "data": None,
                }
                await send_json(send, 500, body, request_id)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_body_size`` bytes, by their declared length up front and by
    counting while they stream in, so an oversized upload is never buffered."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = PayloadTooLarge(
            f"Request body is too large: the limit is {self.max_body_size} bytes."
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await send_json(send, error.http_status, error_body(error, scope["path"]))
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise error
            return message

        await self.app(scope, counting_receive, send)


class AdminPortMiddleware:
    """Keeps the admin API and the rest apart by the port a request came in on: the admin port
    (setting ``admin_port``) answers only ``/api/v1/admin``, and the main port answers it only
    when ``admin_on_main_port`` is true. Anything else is the usual 404."""

    ADMIN_PREFIX = "/api/v1/admin"

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.admin_port = settings.admin_port
        self.admin_on_main_port = settings.admin_on_main_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            is_admin = path == self.ADMIN_PREFIX or path.startswith(self.ADMIN_PREFIX + "/")
            server = scope.get("server")
            on_admin_port = server is not None and server[1] == self.admin_port
            allowed = is_admin if on_admin_port else (self.admin_on_main_port or not is_admin)
            if not allowed:
                body = {
                    "code": int(RetCode.NOT_FOUND),
                    "message": f"Not Found: {path}",
                    "data": None,
                    "error": "Not Found",
                }
                await send_json(send, 404, body)
                return
        await self.app(scope, receive, send)
