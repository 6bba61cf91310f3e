"""The one request layer under ``RAGFlow`` and ``AsyncRAGFlow``.

Both clients build requests, decide retries and read RAGFlow's ``{code, message, data}``
envelope with the functions here; only the sending differs (``SyncHTTP`` / ``AsyncHTTP``).

Retries: a request that could not connect is sent again whatever its method, since the server
never saw it. GET, PUT and DELETE, which are idempotent, are also sent again when the gateway
answers 502, 503 or 504, or the connection drops before the answer. POST never is: the server
may have acted on it (an upload, a question to the model).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

import httpx

from ragserve.sdk._exceptions import (
    RAGServeError,
    RequestTimeout,
    ResponseError,
    TransportError,
    api_error,
)

__all__ = ["DEFAULT_TIMEOUT", "AsyncHTTP", "Retry", "SyncHTTP", "TimeoutTypes"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""A minute for the server to answer (a non-streamed answer waits for the whole model reply)."""

TimeoutTypes: TypeAlias = float | httpx.Timeout | None
"""Seconds for every phase, an ``httpx.Timeout`` per phase, or ``None`` to wait forever."""

QueryValue: TypeAlias = str | int | float | bool | list[str] | None
"""A list is sent as repeated keys (``memory_id=a&memory_id=b``), as ``requests`` sends it."""
FileContent: TypeAlias = bytes | str | IO[bytes]
Files: TypeAlias = Sequence[tuple[str, tuple[str | None, FileContent]]]
"""Multipart parts: ``(field, (filename, content))``; no filename makes a text field."""

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
GATEWAY_STATUSES = frozenset({502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures before any byte of the request left: safe to repeat for every method."""
CUT_OFF = (httpx.RemoteProtocolError, httpx.ReadError)
"""The connection dropped before the answer (a stale keep-alive connection, a restart)."""


@dataclass(frozen=True)
class Retry:
    """When and how soon a failed request is sent again.

    :param retries: how many times a request may be repeated (0 turns retries off).
    :param backoff: seconds before the first repeat; each further one waits twice as long.
    :param max_delay: the longest wait, also for a server's ``Retry-After``.
    """

    retries: int = 2
    backoff: float = 0.5
    max_delay: float = 8.0

    def after_error(self, method: str, error: httpx.RequestError, attempt: int) -> bool:
        """Whether to repeat a request that raised ``error`` on its ``attempt`` (0 first)."""
        if attempt >= self.retries:
            return False
        if isinstance(error, NOT_SENT):
            return True
        return method in IDEMPOTENT and isinstance(error, CUT_OFF)

    def after_status(self, method: str, status: int, attempt: int) -> bool:
        """Whether to repeat a request answered with HTTP ``status`` on its ``attempt``."""
        return attempt < self.retries and method in IDEMPOTENT and status in GATEWAY_STATUSES

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before repeating: the server's ``Retry-After`` in seconds if it gave
        one, else exponential backoff; never more than ``max_delay``."""
        if response is not None:
            try:
                return min(max(float(response.headers.get("Retry-After", "")), 0.0), self.max_delay)
            except ValueError:
                pass
        return float(min(self.backoff * 2**attempt, self.max_delay))


def query(params: Mapping[str, QueryValue]) -> dict[str, str | int | float | list[str]]:
    """Query parameters as RAGFlow's clients send them: ``None`` left out, booleans as
    ``True``/``False`` (what ``requests`` sends; httpx would send ``true``/``false``)."""
    return {
        key: str(value) if isinstance(value, bool) else value
        for key, value in params.items()
        if value is not None
    }


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a read response's success envelope; raises the envelope's error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        raise unexpected(response)
    if body["code"] != 0:
        raise api_error(body)
    return body.get("data")


def content_of(response: httpx.Response) -> bytes:
    """A downloaded file's bytes; raises the error envelope the server sent instead.

    A file comes as an attachment; without that header, a JSON envelope with a non-zero code
    is an error (as ragflow-sdk decides), and so is any other answer with an HTTP error status.
    """
    if response.status_code < 400 and "Content-Disposition" in response.headers:
        return response.content
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] != 0:
        raise api_error(body)
    if response.status_code >= 400:
        raise unexpected(response)
    return response.content


def unexpected(response: httpx.Response) -> ResponseError:
    try:
        text = response.text[:200]
    except httpx.ResponseNotRead:
        text = ""
    kind = response.headers.get("Content-Type", "no content type")
    message = (
        f"{response.request.method} {response.request.url} answered HTTP "
        f"{response.status_code} ({kind}), not a RAGFlow envelope: {text!r}"
    )
    return ResponseError(message, code=response.status_code)


def transport_error(error: httpx.RequestError) -> RAGServeError:
    kind = RequestTimeout if isinstance(error, httpx.TimeoutException) else TransportError
    request = error.request
    reason = str(error) or type(error).__name__
    return kind(f"{request.method} {request.url} failed: {reason}")


class _Shared:
    """The request as both clients build it: URL, auth header, timeout."""

    def __init__(
        self, base_url: str, api_key: str, version: str, timeout: TimeoutTypes, retry: Retry
    ) -> None:
        self.api_url = f"{base_url.rstrip('/')}/api/{version}"
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.timeout = timeout
        self.retry = retry

    def build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        files: Files | None = None,
    ) -> httpx.Request:
        """``json=None`` sends no body (no call of RAGFlow's API sends a JSON ``null``)."""
        return client.build_request(
            method,
            self.api_url + path,
            params=query(params) if params is not None else None,
            json=json,
            files=files,
            headers=self.headers,
            timeout=self.timeout,
        )


class SyncHTTP(_Shared):
    """Sends requests with retries over an ``httpx.Client`` (its own unless one is given)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        version: str = "v1",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        retry: Retry = Retry(),
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, version, timeout, retry)
        self.client = http_client if http_client is not None else httpx.Client()
        self._owns_client = http_client is None

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        files: Files | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """The response, read unless ``stream`` (then the caller closes it)."""
        request = self.build(self.client, method, path, params=params, json=json, files=files)
        attempt = 0
        while True:
            response = None
            try:
                response = self.client.send(request, stream=stream)
            except KeyboardInterrupt:
                self._drop_interrupted_client()
                raise
            except httpx.RequestError as error:
                if not self.retry.after_error(method, error, attempt):
                    raise transport_error(error) from error
            else:
                if not self.retry.after_status(method, response.status_code, attempt):
                    return response
                response.close()
            time.sleep(self.retry.delay(attempt, response))
            attempt += 1

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        files: Files | None = None,
    ) -> Any:
        """The envelope's ``data``; raises ``APIError`` when the server refused."""
        return data_of(self.send(method, path, params=params, json=json, files=files))

    def _drop_interrupted_client(self) -> None:
        """A Ctrl-C may land while httpcore holds its pool's lock, which is then never released:
        the next request (cancelling a parse, say) would wait for it forever. Its own client is
        left behind (closing it could wait the same way) for a new one."""
        if self._owns_client:
            self.client = httpx.Client()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class AsyncHTTP(_Shared):
    """``SyncHTTP`` for asyncio, over an ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        version: str = "v1",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        retry: Retry = Retry(),
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, version, timeout, retry)
        self.client = http_client if http_client is not None else httpx.AsyncClient()
        self._owns_client = http_client is None

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        files: Files | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        request = self.build(self.client, method, path, params=params, json=json, files=files)
        attempt = 0
        while True:
            response = None
            try:
                response = await self.client.send(request, stream=stream)
            except httpx.RequestError as error:
                if not self.retry.after_error(method, error, attempt):
                    raise transport_error(error) from error
            else:
                if not self.retry.after_status(method, response.status_code, attempt):
                    return response
                await response.aclose()
            await asyncio.sleep(self.retry.delay(attempt, response))
            attempt += 1

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        files: Files | None = None,
    ) -> Any:
        response = await self.send(method, path, params=params, json=json, files=files)
        return data_of(response)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()
