"""Web search tools: each asks one service's documented HTTP API for the pages matching a
``query`` (default ``{sys.query}``) and adds them to the turn's references (``add_pages``):
outputs ``formalized_content`` (the pages, each under its citation ID) and ``json``.

| Tool | Service, protocol |
|---|---|
| TavilySearch | Tavily, ``POST /search`` (``models.web_search.TavilySearch``) |
| DuckDuckGo | DuckDuckGo's Instant Answer API, ``GET /?q=&format=json`` |
| Google | SerpApi, ``GET /search.json?engine=google`` |
| GoogleScholar | SerpApi, ``GET /search.json?engine=google_scholar`` |
| SearXNG | a SearXNG instance, ``GET /search?format=json`` |
| Wikipedia | MediaWiki Action API, ``GET /w/api.php?action=query&generator=search`` |
| GitHub | GitHub REST API, ``GET /search/repositories`` |

Base URLs come from ``agent_tool_base_urls`` (by component name), else the public service;
SearXNG's ``searxng_url`` written in the DSL is checked by the private-address guard. An empty
query finds nothing (no call)."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools import http
from ragserve.agent.components.tools.base import Tool, ToolArgument, WebResult, add_pages
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.models.web_search import TavilySearch as TavilyClient
from ragserve.models.web_search import WebSearchError
from ragserve.url_guard import check_url

QUERY = ToolArgument(
    "query", "The search keywords: the most important words of the request.", default="{sys.query}"
)
_TAGS = re.compile(r"<[^>]+>")


def plain(text: Any) -> str:
    """Text without HTML tags and entities (snippets come highlighted)."""
    return html.unescape(_TAGS.sub("", str(text or ""))).strip()


class SearchParams(ComponentParams):
    top_n: int = Field(10, ge=1, le=100)


class SearchTool(Tool):
    Params = SearchParams
    arguments: ClassVar[tuple[ToolArgument, ...]] = (QUERY,)

    @property
    def top_n(self) -> int:
        return int(getattr(self.params, "top_n", 10))

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        raise NotImplementedError

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        query = self.text_argument(arguments, "query")
        if not query:
            return {"formalized_content": "", "json": []}
        found = self.search(context, query, arguments)[: self.top_n]
        return add_pages(context, found, self.component_name)


class TavilySearchParams(SearchParams):
    api_key: str = ""
    topic: Literal["general", "news"] = "general"
    search_depth: Literal["basic", "advanced"] = "basic"
    max_results: int = Field(6, ge=1, le=20)
    days: int = Field(14, ge=1)
    include_answer: bool = False
    include_raw_content: bool = False
    include_images: bool = False
    include_domains: list[str] = Field(default_factory=list)
    exclude_domains: list[str] = Field(default_factory=list)


class TavilySearch(SearchTool):
    component_name = "TavilySearch"
    Params = TavilySearchParams
    default_base_url = "https://api.tavily.com"
    function_description = "Searches the web with Tavily: pages relevant to a query."
    arguments = (
        QUERY,
        ToolArgument(
            "topic", "`news` for current events, else `general`.", required=False,
            default="", enum=("general", "news"),
        ),
    )  # fmt: skip

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, TavilySearchParams)
        client = TavilyClient(
            self.api_key(context, params.api_key), base_url=self.base_url(context)
        )
        options: dict[str, Any] = {
            "topic": arguments.get("topic") or params.topic,
            "search_depth": params.search_depth,
            "include_domains": params.include_domains,
            "exclude_domains": params.exclude_domains,
        }
        if options["topic"] == "news":
            options["days"] = params.days
        try:
            pages = client.search(query, params.max_results, options)
        except WebSearchError as error:
            raise ComponentError(str(error)) from None
        return [WebResult(p.title, p.url, p.content, p.score or 1.0) for p in pages]

    @property
    def top_n(self) -> int:
        params = self.params
        assert isinstance(params, TavilySearchParams)
        return params.max_results


class DuckDuckGoParams(SearchParams):
    channel: Literal["text", "news", "general"] = "text"


class DuckDuckGo(SearchTool):
    """The Instant Answer API gives an abstract (from Wikipedia and others) and related topics,
    not a full web result page: its documented, keyless JSON API."""

    component_name = "DuckDuckGo"
    Params = DuckDuckGoParams
    default_base_url = "https://api.duckduckgo.com"
    function_description = "Searches DuckDuckGo's instant answers for a query."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        answer = http.get_json(
            "DuckDuckGo",
            self.base_url(context) + "/",
            params={"q": query, "format": "json", "no_html": 1, "skip_disambig": 1},
        )
        if not isinstance(answer, dict):
            return []
        found = []
        if answer.get("AbstractText"):
            found.append(
                WebResult(
                    str(answer.get("Heading") or query),
                    str(answer.get("AbstractURL") or ""),
                    str(answer["AbstractText"]),
                )
            )
        topics: list[Any] = list(answer.get("Results") or [])
        for topic in answer.get("RelatedTopics") or []:
            topics += topic.get("Topics", [topic]) if isinstance(topic, dict) else []
        for topic in topics:
            if isinstance(topic, dict) and topic.get("Text"):
                text = str(topic["Text"])
                found.append(WebResult(text.split(" - ")[0], str(topic.get("FirstURL", "")), text))
        return found


class GoogleParams(SearchParams):
    api_key: str = ""
    country: str = "us"
    language: str = "en"


class Google(SearchTool):
    component_name = "Google"
    Params = GoogleParams
    default_base_url = "https://serpapi.com"
    function_description = "Searches Google (through SerpApi) for a query."
    engine = "google"

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, GoogleParams)
        answer = http.get_json(
            self.component_name,
            self.base_url(context) + "/search.json",
            params={
                "engine": self.engine,
                "q": query,
                "api_key": self.api_key(context, params.api_key),
                "num": self.top_n,
                "gl": params.country,
                "hl": params.language,
                **self.more_params(),
            },
        )
        if isinstance(answer, dict) and answer.get("error"):
            raise ComponentError(f"{self.component_name} failed: {plain(answer['error'])}")
        results = answer.get("organic_results") if isinstance(answer, dict) else None
        return [
            WebResult(plain(item.get("title")), str(item.get("link") or ""), self.content(item))
            for item in results or []
            if isinstance(item, dict)
        ]

    def more_params(self) -> dict[str, Any]:
        return {}

    def content(self, item: dict[str, Any]) -> str:
        return plain(item.get("snippet"))


class GoogleScholarParams(GoogleParams):
    sort_by: Literal["relevance", "date"] = "relevance"
    year_low: int | None = None
    year_high: int | None = None
    patents: bool = True


class GoogleScholar(Google):
    component_name = "GoogleScholar"
    Params = GoogleScholarParams
    function_description = "Searches Google Scholar (through SerpApi) for papers."
    engine = "google_scholar"

    def more_params(self) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, GoogleScholarParams)
        extra: dict[str, Any] = {"as_sdt": "7" if params.patents else "0"}
        if params.sort_by == "date":
            extra["scisbd"] = 1
        if params.year_low:
            extra["as_ylo"] = params.year_low
        if params.year_high:
            extra["as_yhi"] = params.year_high
        return extra

    def content(self, item: dict[str, Any]) -> str:
        info = item.get("publication_info")
        summary = plain(info.get("summary")) if isinstance(info, dict) else ""
        return "\n".join(part for part in (summary, plain(item.get("snippet"))) if part)


class SearXNGParams(SearchParams):
    searxng_url: str = ""


class SearXNG(SearchTool):
    component_name = "SearXNG"
    Params = SearXNGParams
    function_description = "Searches the web with a SearXNG metasearch instance."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, SearXNGParams)
        base = params.searxng_url.strip().rstrip("/")
        if base:
            check_url(base, allow_private=self.settings(context).allow_private_urls)
        else:
            base = self.base_url(context)
        if not base:
            raise ComponentError(f"SearXNG {self.id}: `searxng_url` is required.")
        answer = http.get_json(
            "SearXNG", base + "/search", params={"q": query, "format": "json", "pageno": 1}
        )
        results = answer.get("results") if isinstance(answer, dict) else None
        return [
            WebResult(plain(r.get("title")), str(r.get("url") or ""), plain(r.get("content")),
                      float(r.get("score") or 1.0))
            for r in results or []
            if isinstance(r, dict)
        ]  # fmt: skip


class WikipediaParams(SearchParams):
    language: str = Field("en", pattern=r"^[a-z][a-z-]{1,15}$")


class Wikipedia(SearchTool):
    component_name = "Wikipedia"
    Params = WikipediaParams
    default_base_url = "https://{language}.wikipedia.org"
    function_description = "Searches Wikipedia: the introductions of the matching articles."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        params = self.params
        assert isinstance(params, WikipediaParams)
        base = self.base_url(context).replace("{language}", params.language)
        answer = http.get_json(
            "Wikipedia",
            base + "/w/api.php",
            params={
                "action": "query", "format": "json", "formatversion": 2,
                "generator": "search", "gsrsearch": query, "gsrlimit": self.top_n,
                "prop": "extracts|info", "exintro": 1, "explaintext": 1, "exlimit": "max",
                "inprop": "url",
            },
        )  # fmt: skip
        pages = (answer.get("query") or {}).get("pages") if isinstance(answer, dict) else None
        if isinstance(pages, dict):  # formatversion 1 answers a map by page id
            pages = list(pages.values())
        ordered = sorted(
            (p for p in pages or [] if isinstance(p, dict)), key=lambda p: p.get("index", 0)
        )
        return [
            WebResult(str(p.get("title", "")), str(p.get("fullurl", "")), str(p.get("extract", "")))
            for p in ordered
        ]


class GitHub(SearchTool):
    component_name = "GitHub"
    default_base_url = "https://api.github.com"
    function_description = "Searches GitHub repositories, most starred first."

    def search(self, context: RunContext, query: str, arguments: dict[str, Any]) -> list[WebResult]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        token = self.settings(context).agent_tool_api_keys.get("GitHub")
        if token is not None and token.get_secret_value():
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        answer = http.get_json(
            "GitHub",
            self.base_url(context) + "/search/repositories",
            params={"q": query, "sort": "stars", "order": "desc", "per_page": self.top_n},
            headers=headers,
        )
        items = answer.get("items") if isinstance(answer, dict) else None
        found = []
        for item in items or []:
            if not isinstance(item, dict):
                continue
            content = (
                f"{item.get('description') or ''}\n"
                f"Stars: {item.get('stargazers_count', 0)}, language: {item.get('language')}"
            )
            found.append(
                WebResult(str(item.get("full_name") or item.get("name")),
                          str(item.get("html_url") or ""), content.strip())
            )  # fmt: skip
        return found
