"""A real MCP server for the tests of the MCP server registry and the Agent's ``mcp`` tools: the
``mcp`` package's ``MCPServer`` served by uvicorn in a child process, over streamable HTTP at
``/mcp`` and SSE at ``/sse`` (messages at ``/messages/``).

Tools: ``shout(text)`` answers the text in capitals with ``!``; ``add(a, b)`` the sum;
``whoami()`` the ``Authorization`` header the request carried (``none`` without);
``slow(seconds)`` answers ``done`` after that long; ``broken()`` fails with ``the tool broke``.

The parent binds the socket (a free port on 127.0.0.1, listening before the child starts, so
no wait is needed) and hands it to the child::

    with fake_mcp() as server:  # server.mcp_url, server.sse_url
        ...
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request

TOOL_NAMES = {"shout", "add", "whoami", "slow", "broken"}


def build_app() -> Any:
    server = MCPServer("fake-tools")

    @server.tool()
    def shout(text: str) -> str:
        """Says the text loudly."""
        return text.upper() + "!"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Adds two numbers."""
        return a + b

    @server.tool()
    def whoami(ctx: Context) -> str:
        """Tells which credential the request carried."""
        request = ctx.request_context.request
        if isinstance(request, Request):
            return request.headers.get("authorization", "none")
        return "none"

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answers after a while."""
        await anyio.sleep(seconds)
        return "done"

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise ToolError("the tool broke")

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    http_app = server.streamable_http_app(transport_security=security)
    sse_app = server.sse_app(transport_security=security)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        async with http_app.router.lifespan_context(http_app):
            yield

    return Starlette(routes=[*http_app.routes, *sse_app.routes], lifespan=lifespan)


@dataclass
class FakeMcp:
    origin: str

    @property
    def mcp_url(self) -> str:
        return f"{self.origin}/mcp"

    @property
    def sse_url(self) -> str:
        return f"{self.origin}/sse"


@contextmanager
def fake_mcp() -> Iterator[FakeMcp]:
    from helpers.processes import stop

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, __file__, str(listener.fileno())],
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield FakeMcp(f"http://127.0.0.1:{port}")
    finally:
        stop(process)
        listener.close()


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(build_app(), fd=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=1)
