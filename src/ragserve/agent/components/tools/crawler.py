"""Crawler: fetches a web page and gives its text.

Parameters (RAGFlow's): ``extract_type`` (``markdown``, ``content``: plain text, ``html``: the
page as fetched), ``proxy`` (an http(s) proxy URL). Argument: ``url`` (default
``{sys.query}``; the first URL in it). Output: ``content``.

RAGFlow drives a browser (crawl4ai); ragserve fetches the HTML over HTTP (no JavaScript runs)
and reads it with the HTML parser of ingestion (``ingest/parsers/html.py``: scripts, styles,
navigation and footers dropped), written back as Markdown or text. Every URL, each redirect's
too (at most 5), must be public unless ``allow_private_urls``; at most 5 MiB is read.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urljoin

import httpx

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools.base import Tool, ToolArgument
from ragserve.agent.components.tools.http import USER_AGENT
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.ingest.parsers.html import parse_html
from ragserve.ingest.types import Block, BlockKind, ParseError
from ragserve.url_guard import check_url

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = 30.0
_URL = re.compile(r"https?://[^\s<>\"'`]+")


class CrawlerParams(ComponentParams):
    extract_type: Literal["markdown", "content", "html"] = "markdown"
    proxy: str = ""


def _markdown(block: Block) -> str:
    if block.kind == BlockKind.HEADING:
        return "#" * max(1, min(block.level, 6)) + " " + block.text
    if block.kind == BlockKind.LIST_ITEM:
        return "- " + block.text
    if block.kind == BlockKind.CODE:
        return f"```\n{block.text}\n```"
    if block.kind == BlockKind.TABLE and block.rows:
        width = max(len(row) for row in block.rows)
        rows = [list(row) + [""] * (width - len(row)) for row in block.rows]
        lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * width)
        return "\n".join(lines)
    return block.text


def page_text(data: bytes, extract_type: str) -> str:
    try:
        parsed = parse_html(data)
    except ParseError as error:
        raise ComponentError(f"Crawler: {error}") from None
    if extract_type == "content":
        parts = [block.text for block in parsed.blocks]
    else:
        parts = [_markdown(block) for block in parsed.blocks]
        starts_with_heading = bool(parsed.blocks) and parsed.blocks[0].kind == BlockKind.HEADING
        if parsed.title and not starts_with_heading:
            parts.insert(0, f"# {parsed.title}")
    return "\n\n".join(part for part in parts if part.strip())


class Crawler(Tool):
    component_name = "Crawler"
    Params = CrawlerParams
    function_description = "Fetches a web page and returns its text."
    arguments = (ToolArgument("url", "The page's URL.", default="{sys.query}"),)

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, CrawlerParams)
        found = _URL.search(self.text_argument(arguments, "url"))
        if not found:
            raise ComponentError(f"Crawler {self.id}: no http(s) URL to fetch.")
        allow = self.settings(context).allow_private_urls
        if params.proxy:
            check_url(params.proxy, allow_private=allow)
        data = self._fetch(found.group(0).rstrip(".,;)"), params.proxy or None, allow)
        if params.extract_type == "html":
            return {"content": data.decode("utf-8", errors="replace")}
        return {"content": page_text(data, params.extract_type)}

    def _fetch(self, url: str, proxy: str | None, allow_private: bool) -> bytes:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"}
        try:
            with httpx.Client(timeout=TIMEOUT, proxy=proxy, follow_redirects=False) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    check_url(url, allow_private=allow_private)
                    with client.stream("GET", url, headers=headers) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code >= 400:
                            raise ComponentError(f"Crawler: HTTP {response.status_code}.")
                        return _read(response)
        except httpx.HTTPError as error:
            raise ComponentError(f"Crawler failed: {type(error).__name__}.") from None
        raise ComponentError(f"Crawler: more than {MAX_REDIRECTS} redirects.")


def _read(response: httpx.Response) -> bytes:
    data = bytearray()
    for piece in response.iter_bytes():
        data += piece
        if len(data) > MAX_BYTES:
            break
    return bytes(data[:MAX_BYTES])
