"""The web-API tools against local servers speaking each service's protocol
(``helpers/fake_web_apis.py``), pointed at them through ``agent_tool_base_urls``: as canvas
nodes (table-driven), as an Agent's tools, and their failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from helpers.fake_openai import FakeOpenAI
from helpers.fake_web_apis import FakeWebAPI
from ragserve.settings import Settings
from unit.agent.conftest import Environment, Runner, chain


@pytest.fixture
def serve(environment: Environment) -> Iterator[Any]:
    servers: list[FakeWebAPI] = []

    def start(api: str, component: str, base_suffix: str = "", **settings: Any) -> FakeWebAPI:
        server = FakeWebAPI(api).__enter__()
        servers.append(server)
        environment.settings = Settings(
            agent_tool_base_urls={component: server.base_url + base_suffix}, **settings
        )
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.__exit__(None, None, None)


CASES: list[tuple[str, str, dict[str, Any], str, list[str], dict[str, str]]] = [
    # (component, api, params, question, in the outputs' text, in the request's query)
    ("TavilySearch", "tavily", {"api_key": "tvly-1", "topic": "news"}, "cranes",
     ["Cranes fly south (news).", "https://birds.example/cranes"], {}),
    ("DuckDuckGo", "duckduckgo", {}, "crane",
     ["Cranes are large, long-legged birds.", "Sandhill crane", "A lifting machine."],
     {"q": "crane", "format": "json"}),
    ("Google", "serpapi", {"api_key": "serp-key", "country": "de", "top_n": 1}, "crane",
     ["Cranes & herons"], {"engine": "google", "gl": "de", "num": "1"}),
    ("GoogleScholar", "serpapi", {"api_key": "serp-key", "year_low": 2019}, "crane",
     ["A Author - 2020\nCranes & herons"], {"engine": "google_scholar", "as_ylo": "2019"}),
    ("SearXNG", "searxng", {}, "crane", ["A crane.", "https://c.example/"], {"format": "json"}),
    ("GitHub", "github", {"top_n": 3}, "rag", ["RAG engine\nStars: 70000"],
     {"q": "rag", "sort": "stars", "per_page": "3"}),
    ("ArXiv", "arxiv", {"sort_by": "relevance"}, "rag",
     ["Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
      "Authors: Patrick Lewis, Ethan Perez"], {"search_query": "all:rag", "sortBy": "relevance"}),
    ("PubMed", "pubmed", {"email": "a@b.example"}, "cranes",
     ["Title: Cranes and wetlands.\nAuthors: Jo Smith\nJournal: Nature"],
     {"email": "a@b.example"}),
]  # fmt: skip


@pytest.mark.parametrize(("component", "api", "params", "question", "texts", "query"), CASES)
def test_search_tools_as_nodes(
    run: Runner,
    serve: Any,
    component: str,
    api: str,
    params: dict[str, Any],
    question: str,
    texts: list[str],
    query: dict[str, str],
) -> None:
    server = serve(api, component)
    _events, turn = run(chain(("Tool:t", component, params)), query=question)
    assert turn.error is None, turn.error
    outputs = turn.state.outputs["Tool:t"]
    for text in texts:
        assert text in outputs["formalized_content"]
    assert outputs["formalized_content"].startswith("ID: ")
    assert outputs["json"]
    assert turn.state.reference["chunks"]  # the pages can be cited
    seen = server.requests[0].query
    assert {k: seen.get(k) for k in query} == query


def test_wikipedia_orders_pages_and_fills_the_language(run: Runner, serve: Any) -> None:
    server = serve("wikipedia", "Wikipedia", "/{language}")
    _events, turn = run(chain(("W:1", "Wikipedia", {"language": "de"})), query="cranes")
    content = turn.state.outputs["W:1"]["formalized_content"]
    assert content.index("family of large birds") < content.index("endangered crane")
    assert server.requests[0].path == "/de/w/api.php"
    assert server.requests[0].query["gsrsearch"] == "cranes"


def test_tavily_extract(run: Runner, serve: Any) -> None:
    serve("tavily", "TavilyExtract")
    params = {"api_key": "tvly-1", "urls": "https://a.example/x, https://b.example/y"}
    _events, turn = run(chain(("E:1", "TavilyExtract", params)))
    content = turn.state.outputs["E:1"]["formalized_content"]
    assert "Text of https://a.example/x" in content and "Text of https://b.example/y" in content


def test_deepl_translates_the_question(run: Runner, serve: Any) -> None:
    server = serve("deepl", "DeepL")
    params = {"auth_key": "deepl-key:fx", "target_lang": "de", "source_lang": "auto"}
    _events, turn = run(chain(("D:1", "DeepL", params)), query="Hello")
    assert turn.state.outputs["D:1"]["content"] == "[DE] Hello"
    assert "source_lang" not in server.requests[0].body


@pytest.mark.parametrize(
    ("kind", "period", "expected"),
    [("weather", "now", "Sunny"), ("weather", "3d", "2026-12-03"), ("indices", "now", "Sport"),
     ("airquality", "now", "Excellent")],
)  # fmt: skip
def test_qweather(run: Runner, serve: Any, kind: str, period: str, expected: str) -> None:
    serve("qweather", "QWeather")
    params = {"web_apikey": "qw-key", "type": kind, "time_period": period}
    _events, turn = run(chain(("Q:1", "QWeather", params)), query="Beijing")
    content = turn.state.outputs["Q:1"]["content"]
    assert content.startswith("Beijing, Beijing, China:") and expected in content


def test_a_refused_key_fails_the_node_without_showing_it(run: Runner, serve: Any) -> None:
    serve("serpapi", "Google")
    _events, turn = run(chain(("G:1", "Google", {"api_key": "wrong-key"})), query="crane")
    assert turn.error == "Google refused the request (HTTP 401)."


def test_a_key_from_the_settings(run: Runner, serve: Any) -> None:
    serve("serpapi", "Google", agent_tool_api_keys={"Google": SecretStr("serp-key")})
    _events, turn = run(chain(("G:1", "Google", {})), query="crane")
    assert "Crane facts" in turn.state.outputs["G:1"]["formalized_content"]


def test_no_key_says_so(run: Runner, serve: Any) -> None:
    serve("tavily", "TavilySearch")
    _events, turn = run(chain(("T:1", "TavilySearch", {})), query="crane")
    assert turn.error == "TavilySearch T:1: an API key is required."


def test_a_searxng_url_in_the_dsl_is_guarded(run: Runner, serve: Any) -> None:
    server = serve("searxng", "Unused")
    params = {"searxng_url": server.base_url}
    _events, turn = run(chain(("S:1", "SearXNG", params)), query="crane")
    assert "is a private address" in str(turn.error)
    assert not server.requests


def test_an_empty_query_calls_nothing(run: Runner, serve: Any) -> None:
    server = serve("github", "GitHub")
    _events, turn = run(chain(("G:1", "GitHub", {"query": "{env.nothing}"})), query="x")
    assert turn.state.outputs["G:1"]["formalized_content"] == ""
    assert not server.requests


def test_an_agent_calls_a_web_tool_and_cites_it(run: Runner, serve: Any, fake: FakeOpenAI) -> None:
    server = serve("searxng", "SearXNG")  # the fake model calls the tool with the question
    agent = {
        "llm_id": "openai/fake-chat",
        "sys_prompt": "Use the tools.",
        "tools": [{"component_name": "SearXNG", "name": "SearXNG", "params": {"top_n": 2}}],
    }
    _events, turn = run(chain(("Agent:a", "Agent", agent)), query="crane facts")
    assert turn.error is None, turn.error
    used = turn.state.outputs["Agent:a"]["use_tools"]
    assert used[0]["name"] == "SearXNG" and used[0]["arguments"] == {"query": "crane facts"}
    assert "A crane." in used[0]["results"]
    assert server.requests[0].query["q"] == "crane facts"
    assert turn.state.outputs["Agent:a"]["content"].startswith(
        "According to SearXNG, here it is [ID:"
    )
    request = next(r.body for r in fake.requests if r.path == "/v1/chat/completions")
    function = request["tools"][0]["function"]
    assert function["name"] == "SearXNG"
    assert function["parameters"]["required"] == ["query"]


def test_tushare_news_filtered_by_the_keyword(run: Runner, serve: Any) -> None:
    server = serve("tushare", "TuShare")
    _events, turn = run(chain(("T:1", "TuShare", {"token": "ts-token", "src": "sina"})), "银行")
    assert turn.error is None, turn.error
    assert turn.state.outputs["T:1"]["json"] == [
        {"datetime": "2026-12-07 09:30:00", "content": "银行板块走强", "title": "Banks up"}
    ]
    assert (
        "| 2026-12-07 09:30:00 | 银行板块走强 | Banks up |"
        in (turn.state.outputs["T:1"]["formalized_content"])
    )
    assert server.requests[0].body["params"]["src"] == "sina"
    _events, turn = run(chain(("T:1", "TuShare", {"token": "wrong"})), "x")
    assert str(turn.error).startswith("TuShare failed: 抱歉")


def test_yahoo_finance_report(run: Runner, serve: Any) -> None:
    serve("yahoo", "YahooFinance")
    params = {"info": True, "history": True, "news": True}
    _events, turn = run(chain(("Y:1", "YahooFinance", params)), query="AAPL")
    assert turn.error is None, turn.error
    report = turn.state.outputs["Y:1"]["report"]
    assert "| regularMarketPrice | 190.5 |" in report
    assert "| 2025-12-06 | 190.0 | 192.0 | 189.5 | 190.5 | 2000 |" in report
    assert "| Apple ships | Reuters | https://n.example/1 |" in report
    _events, turn = run(chain(("Y:1", "YahooFinance", params)), query="NOPE")
    assert turn.error == "YahooFinance failed: HTTP 404."
    _events, turn = run(chain(("Y:1", "YahooFinance", {"balance_sheet": True})), query="AAPL")
    assert turn.error == "YahooFinance Y:1: ragserve does not fetch balance_sheet."


def test_jin10_flash_and_quotes(run: Runner, serve: Any) -> None:
    serve("jin10", "Jin10")
    _events, turn = run(chain(("J:1", "Jin10", {"secret_key": "jin10-key", "query": "gold"})))
    assert turn.error is None, turn.error
    assert turn.state.outputs["J:1"]["formalized_content"] == (
        "| content |\n|---|\n| Gold rises 1% |"
    )
    params = {"secret_key": "jin10-key", "type": "symbols", "symbols_datatype": "quotes"}
    _events, turn = run(chain(("J:1", "Jin10", params)))
    assert turn.state.outputs["J:1"]["json"] == [
        {"Commodity Code": "BTCUSD", "Stock Exchange": "CRYPTO", "Latest Price": 97000.5,
         "Market Quote Time": "2026-12-07 10:00:00"}
    ]  # fmt: skip
    _events, turn = run(chain(("J:1", "Jin10", {"secret_key": "wrong"})))
    assert turn.error == "Jin10 refused the request (HTTP 401)."


def test_every_ragflow_tool_runs_or_is_refused_by_name() -> None:
    from ragserve.agent.components import COMPONENTS, NOT_YET_SUPPORTED
    from ragserve.agent.components.agent import TOOL_COMPONENTS

    ragflow_tools = {
        "Retrieval", "CodeExec", "ExeSQL", "Email", "Crawler", "TavilySearch", "TavilyExtract",
        "Google", "GoogleScholar", "DuckDuckGo", "SearXNG", "Wikipedia", "ArXiv", "PubMed",
        "GitHub", "DeepL", "QWeather", "YahooFinance", "AkShare", "TuShare", "WenCai", "Jin10",
    }  # fmt: skip
    assert not NOT_YET_SUPPORTED & COMPONENTS.keys()
    assert ragflow_tools <= COMPONENTS.keys() | NOT_YET_SUPPORTED
    assert ragflow_tools - NOT_YET_SUPPORTED <= set(TOOL_COMPONENTS)
