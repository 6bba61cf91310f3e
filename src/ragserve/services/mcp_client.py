"""Talking to an external MCP server, as the registry (``/v1/mcp_server/*``) and the Agent
component's ``mcp`` tools do: list its tools, call one. The ``mcp`` package's client does the
protocol over streamable HTTP or SSE; each call opens a session, initializes it, makes its one
request and closes it, all within one timeout.

The URL comes from a user, so before connecting its host must resolve to public addresses only,
unless ``allow_private_urls`` is set (``check_url``, from ``url_guard``). Headers are sent as
registered, with ``$name`` / ``${name}`` placeholders filled from the server's variables
(RAGFlow's templating); a header whose name or value ends up blank, or whose value is a bare
``Bearer``, is dropped.

Failures raise ``McpFailure`` with a short reason fit for a client (never a stack trace)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from string import Template
from typing import Any, TypeVar

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, PaginatedRequestParams, TextContent

from ragserve import url_guard

SSE = "sse"
STREAMABLE_HTTP = "streamable-http"
SERVER_TYPES = (SSE, STREAMABLE_HTTP)

T = TypeVar("T")
MAX_PAGES = 100
"""Pages of a tool list read at most (a server that pages forever stops here)."""


class McpFailure(Exception):
    """The server could not be reached or refused; ``str()`` is the reason for the client."""


@dataclass(frozen=True)
class McpTarget:
    """Where a server is and what to send it."""

    url: str
    server_type: str
    headers: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)


def check_url(url: str, *, allow_private: bool) -> None:
    """``url_guard.check_url``, its refusal as an ``McpFailure``."""
    try:
        url_guard.check_url(url, allow_private=allow_private)
    except url_guard.UrlRefused as refused:
        raise McpFailure(str(refused)) from None


def request_headers(target: McpTarget) -> dict[str, str]:
    """The headers to send: placeholders filled from the variables (all but ``tools``)."""
    values = {k: str(v) for k, v in target.variables.items() if k != "tools"}
    headers: dict[str, str] = {}
    for name, value in target.headers.items():
        filled_name = Template(str(name)).safe_substitute(values).strip()
        filled = Template(str(value)).safe_substitute(values).strip()
        if filled_name and filled.removeprefix("Bearer").strip():
            headers[filled_name] = filled
    return headers


class _Statuses:
    """The error statuses (4xx, 5xx) a session's HTTP client received: the MCP client reports an
    HTTP error as a bare ``Server returned an error response``, the status is taken here."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def __call__(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self.seen.append(response.status_code)

    def client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | float | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        """An HTTP client (as the ``mcp`` package's factory makes one) that reports to this."""
        return httpx2.AsyncClient(
            headers=headers, timeout=timeout, auth=auth, event_hooks={"response": [self]}
        )


@asynccontextmanager
async def _session(target: McpTarget, timeout: float, statuses: _Statuses) -> Any:
    headers = request_headers(target)
    if target.server_type == SSE:
        async with (
            sse_client(
                target.url,
                headers=headers,
                timeout=timeout,
                sse_read_timeout=timeout,
                httpx_client_factory=statuses.client,
            ) as (read, write),
            ClientSession(read, write, read_timeout_seconds=timeout) as session,
        ):
            await session.initialize()
            yield session
        return
    if target.server_type != STREAMABLE_HTTP:
        raise McpFailure(f"Unsupported MCP server type: {target.server_type}")
    async with (
        statuses.client(headers=headers, timeout=timeout) as http,
        streamable_http_client(target.url, http_client=http) as (read, write),
        ClientSession(read, write, read_timeout_seconds=timeout) as session,
    ):
        await session.initialize()
        yield session


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def _reason(error: BaseException, timeout: float, statuses: _Statuses) -> str:
    """A short, safe description of what went wrong."""
    for leaf in _leaves(error):
        if isinstance(leaf, McpFailure):
            return str(leaf)
        if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
            return f"no answer within {timeout:g} seconds"
        if isinstance(leaf, httpx2.HTTPStatusError):
            return f"the server answered HTTP {leaf.response.status_code}"
        if isinstance(leaf, httpx2.ConnectError):
            return "cannot connect to the server"
        if isinstance(leaf, MCPError):
            if statuses.seen:
                return f"the server answered HTTP {statuses.seen[-1]}"
            return f"the server refused: {leaf.error.message}"
    return "the server did not speak MCP as expected"


def _run(target: McpTarget, timeout: float, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    statuses = _Statuses()

    async def main() -> T:
        with anyio.fail_after(timeout):
            async with _session(target, timeout, statuses) as session:
                return await work(session)

    try:
        return anyio.run(main)
    except Exception as error:  # every failure of a remote server becomes its reason
        raise McpFailure(_reason(error, timeout, statuses)) from None


def list_tools(target: McpTarget, timeout: float) -> list[dict[str, Any]]:
    """Every tool of the server as MCP describes it (``name``, ``description``,
    ``inputSchema``…), all pages."""

    async def work(session: ClientSession) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await session.list_tools(params=params)
            tools += [
                tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                for tool in result.tools
            ]
            cursor = result.next_cursor
            if not cursor:
                break
        return tools

    return _run(target, timeout, work)


def result_text(result: CallToolResult) -> str:
    """A tool's result as text for a model: its text parts, others named by their type; an
    error result is ``MCP server error: …``."""
    parts = [
        item.text if isinstance(item, TextContent) else f"[{item.type}]" for item in result.content
    ]
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    return f"MCP server error: {text}" if result.is_error else text


def call_tool(target: McpTarget, name: str, arguments: dict[str, Any], timeout: float) -> str:
    """Call the tool ``name`` and answer its result as text (``result_text``)."""

    async def work(session: ClientSession) -> str:
        return result_text(await session.call_tool(name, arguments))

    return _run(target, timeout, work)
