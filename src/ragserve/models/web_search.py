"""Web search: one small interface (``WebSearch``) and its Tavily implementation.

A chat assistant with ``tavily_api_key`` in its prompt settings searches the web beside its
datasets; deep research searches it for each sub-question. Another search service (the agents'
DuckDuckGo, SearXNG, Google...) implements ``WebSearch`` and is picked by ``web_search_for``.

Errors: ``WebSearchError`` (a ``RagserveError``) with a message safe to show, never the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ragserve.errors import RagserveError

logger = logging.getLogger(__name__)

TAVILY_BASE_URL = "https://api.tavily.com"


class WebSearchError(RagserveError):
    """The web search service failed or refused the key."""


@dataclass(frozen=True)
class WebPage:
    """One search result: where it is, its title, the text the service extracted, its score
    (the service's relevance in [0, 1], 0 when it gives none)."""

    url: str
    title: str
    content: str
    score: float = 0.0


class WebSearch(Protocol):
    name: str

    def search(self, query: str, max_results: int) -> list[WebPage]:
        """The best pages for ``query``, best first, at most ``max_results``; raises
        ``WebSearchError``."""
        ...


class TavilySearch:
    """Tavily's search API: ``POST {base_url}/search`` with the key as a bearer token (and, for
    older deployments, in the body), answering ``{"results": [{"url", "title", "content",
    "score"}]}``."""

    name = "Tavily"

    def __init__(self, api_key: str, *, base_url: str = TAVILY_BASE_URL, timeout: float = 30):
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/search"
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TavilySearch(url={self._url!r})"

    def search(
        self, query: str, max_results: int, options: dict[str, Any] | None = None
    ) -> list[WebPage]:
        """``options``: more of Tavily's search fields (``topic``, ``search_depth``, ``days``,
        ``include_domains``...), as the agents' TavilySearch sets them."""
        body = {
            "query": query,
            "api_key": self._api_key,
            "max_results": max(1, min(max_results, 20)),
            "search_depth": "basic",
            "include_answer": False,
            "include_raw_content": False,
            **(options or {}),
        }
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            with httpx.Client(timeout=self._timeout) as client:
                response = client.post(self._url, json=body, headers=headers)
        except httpx.HTTPError as error:
            what = type(error).__name__
            raise WebSearchError(f"Web search ({self.name}) failed: {what}.") from None
        if response.status_code in (401, 403):
            raise WebSearchError(f"Web search ({self.name}) refused the API key.")
        if response.status_code != 200:
            raise WebSearchError(f"Web search ({self.name}) failed: HTTP {response.status_code}.")
        try:
            payload = response.json()
        except ValueError:
            raise WebSearchError(f"Web search ({self.name}) did not answer JSON.") from None
        return _pages(payload)[:max_results]


def _pages(payload: Any) -> list[WebPage]:
    results = payload.get("results") if isinstance(payload, dict) else None
    pages = []
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        content = item.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        score = item.get("score")
        pages.append(
            WebPage(
                url=item["url"],
                title=str(item.get("title") or item["url"]),
                content=content.strip(),
                score=float(score) if isinstance(score, int | float) else 0.0,
            )
        )
    return pages


def web_search_for(
    prompt_config: dict[str, Any], *, tavily_base_url: str = TAVILY_BASE_URL, timeout: float = 30
) -> WebSearch | None:
    """The web search an assistant's prompt settings ask for (``tavily_api_key``), if any."""
    key = prompt_config.get("tavily_api_key")
    if isinstance(key, str) and key.strip():
        return TavilySearch(key.strip(), base_url=tavily_base_url, timeout=timeout)
    return None
