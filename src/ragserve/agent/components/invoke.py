"""Invoke: an HTTP request (RAGFlow's ``invoke.py``). Parameters: ``url`` (references in it
are filled in; no scheme means ``http://``), ``method`` get/post/put, ``headers`` (a JSON
object, or its text; references in values are filled in), ``variables`` (``[{key, ref,
value}]``: ``value`` when given, else the value ``ref`` names; sent as the query of a GET,
else as the body), ``datatype`` json/formdata (the body's encoding), ``proxy``, ``timeout``
(seconds, 60), ``clean_html`` (the answer's text without its HTML). Output ``result``: the
answer's body as text, whatever its status.

The private-address guard: the URL (every redirect too, and the proxy) must name a public
address. Loopback, private, link-local (cloud metadata services), shared, reserved and
multicast addresses are refused, unless the ``allow_private_urls`` setting lifts it
(``RunContext.allow_private_urls``). Names are resolved and every address they resolve to is
checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve import url_guard
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.ingest.parsers.html import parse_html_text
from ragserve.ingest.types import ParseError

MAX_REDIRECTS = 5
MAX_BODY = 10 * 1024 * 1024
"""Bytes of an answer read at most; the rest is dropped."""
REDIRECTS = (301, 302, 303, 307, 308)


class Variable(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str = Field(min_length=1)
    ref: str = ""
    value: Any = None


class InvokeParams(ComponentParams):
    url: str = Field(min_length=1)
    method: Literal["get", "post", "put"] = "get"
    headers: dict[str, Any] | str = ""
    variables: list[Variable] = Field(default_factory=list)
    datatype: Literal["json", "formdata"] = "json"
    proxy: str | None = None
    timeout: float = Field(60, gt=0)
    clean_html: bool = False

    @field_validator("method", "datatype", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def check_target(url: str, allow_private: bool) -> None:
    """Raise ``ComponentError`` unless ``url`` is http(s) and (unless ``allow_private``)
    every address its host resolves to is public (``url_guard``)."""
    try:
        url_guard.check_url(url, allow_private=allow_private)
    except url_guard.UrlRefused as refused:
        raise ComponentError(f"Invoke: {refused}") from None


def html_text(html: str) -> str:
    """The text of an HTML page, a line per block (the HTML parser of ingestion)."""
    try:
        return "\n".join(block.text for block in parse_html_text(html).blocks)
    except ParseError as error:
        raise ComponentError(f"Invoke: the answer is not readable HTML: {error}") from None


class Invoke(Component):
    component_name = "Invoke"
    Params = InvokeParams

    @property
    def settings(self) -> InvokeParams:
        assert isinstance(self.params, InvokeParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for variable in self.settings.variables:
            if variable.ref.strip():
                yield "variables", reference_of(variable.ref)

    def _arguments(self, context: RunContext) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for variable in self.settings.variables:
            if variable.value not in (None, ""):
                value = variable.value
                arguments[variable.key] = context.render(value) if isinstance(value, str) else value
            elif variable.ref.strip():
                value = context.value(reference_of(variable.ref))
                arguments[variable.key] = str(value) if hasattr(value, "text") else value
            else:
                arguments[variable.key] = None
        return arguments

    def _headers(self, context: RunContext) -> dict[str, str]:
        headers = self.settings.headers
        if isinstance(headers, str):
            if not headers.strip():
                return {}
            try:
                headers = json.loads(headers)
            except ValueError:
                raise ComponentError(f"Invoke {self.id}: `headers` is not JSON.") from None
            if not isinstance(headers, dict):
                raise ComponentError(f"Invoke {self.id}: `headers` is not a JSON object.")
        return {str(k): context.render(str(v)) for k, v in headers.items()}

    def run(self, context: RunContext) -> dict[str, Any]:
        settings = self.settings
        url = context.render(settings.url).strip()
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        proxy = (settings.proxy or "").strip()
        if proxy and not proxy.removeprefix("http://").removeprefix("https://").strip("/"):
            proxy = ""
        if proxy:
            check_target(proxy, context.allow_private_urls)
        timeout = max(0.001, min(settings.timeout, context.deadline - time.monotonic()))
        arguments = self._arguments(context)
        request: dict[str, Any] = {"headers": self._headers(context)}
        if settings.method == "get":  # added to the URL's own query
            query = {k: v for k, v in arguments.items() if v is not None}
            url = str(httpx.URL(url).copy_merge_params(query)) if query else url
        elif settings.datatype == "json":
            request["json"] = arguments
        else:
            request["data"] = {k: "" if v is None else str(v) for k, v in arguments.items()}
        try:
            with httpx.Client(timeout=timeout, proxy=proxy or None, trust_env=False) as client:
                text = self._send(context, client, settings.method.upper(), url, request)
        except httpx.HTTPError as error:
            raise ComponentError(f"Invoke {self.id}: Http request error: {error}") from None
        return {"result": html_text(text) if settings.clean_html else text}

    def _send(
        self,
        context: RunContext,
        client: httpx.Client,
        method: str,
        url: str,
        request: dict[str, Any],
    ) -> str:
        """The answer's text, redirects followed (each checked by the guard)."""
        for _ in range(MAX_REDIRECTS + 1):
            check_target(url, context.allow_private_urls)
            context.check_deadline()
            with client.stream(method, url, **request) as response:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    url = urljoin(url, location)
                    status = response.status_code
                    if status == 303 or (status in (301, 302) and method == "POST"):
                        method, request = "GET", {"headers": request["headers"]}
                    continue
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) >= MAX_BODY:
                        break
                encoding = response.encoding or "utf-8"
                return bytes(body[:MAX_BODY]).decode(encoding, errors="replace")
        raise ComponentError(f"Invoke {self.id}: more than {MAX_REDIRECTS} redirects.")
