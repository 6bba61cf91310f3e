"""Deep research's bounds and the reading of the model's planning, review and TOC replies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from helpers.fake_tavily import FakeTavily
from ragserve.models.chat import Delta
from ragserve.models.web_search import TavilySearch, WebSearchError
from ragserve.rag.research import best_entries, numbered_items, toc_entries, verdict
from ragserve.services.deep_research import Limits, Research, gather
from ragserve.services.retrieval import Hit
from ragserve.store.base import ChunkRecord


class ScriptedChat:
    """A chat model answering planning with three queries and every review with new ones."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        self.calls += 1
        return "MORE\n" + "\n".join(f"{n}. query {self.calls}-{n}" for n in range(1, 4))

    def stream(
        self, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> Iterator[Delta]:
        raise AssertionError("research never streams")


def long_hits(query: str) -> list[Hit]:
    text = f"{query} " + "padding words that fill the findings " * 20
    record = ChunkRecord(
        id=query, tenant_id="t", dataset_id="d", document_id="doc", document_name="a.md",
        content=text, content_tokens="",
    )  # fmt: skip
    return [Hit(record, 0.5, 0.5, 0.5)]


def run(steps: Iterator[str]) -> tuple[list[str], Research]:
    lines = []
    while True:
        try:
            lines.append(next(steps))
        except StopIteration as done:
            return lines, done.value


def test_research_stops_at_the_round_limit() -> None:
    chat = ScriptedChat()
    lines, research = run(gather(chat, "q", long_hits, None, Limits(rounds=3, tokens=10**6)))
    assert chat.calls == 3  # plan + two reviews; the third round is not reviewed
    assert len(research.queries) == 9 and len(research.hits) == 9
    assert "Stopping after 3 rounds" in lines[-1]


def test_research_stops_when_its_token_budget_is_spent() -> None:
    chat = ScriptedChat()
    lines, research = run(gather(chat, "q", long_hits, None, Limits(rounds=10, tokens=1500)))
    assert chat.calls < 10 and research.tokens <= 1500  # far fewer than 10 rounds
    assert "the budget of 1500 tokens is spent" in lines[-1]


def test_closing_the_research_stops_it() -> None:
    chat = ScriptedChat()
    searched: list[str] = []

    def search(query: str) -> list[Hit]:
        searched.append(query)
        return long_hits(query)

    steps = gather(chat, "q", search, None, Limits(rounds=10, tokens=10**6))
    next(steps)  # planning announced
    next(steps)  # round 1 announced
    steps.close()  # the client went away
    assert chat.calls == 1 and searched == []


def test_reading_replies() -> None:
    assert numbered_items("Sure:\n1. a\n2) b\n- c\n1. A\nplain", 5) == ["a", "b", "c"]
    assert numbered_items("1. a\n2. b\n3. c", 2) == ["a", "b"]
    assert verdict("ENOUGH.", 3).enough
    assert verdict("MORE\n1. x\n2. y", 3) == verdict("more:\n1. x\n2. y", 3)
    assert verdict("MORE\n1. x", 3).queries == ["x"]
    assert verdict("MORE", 3).enough  # nothing more to search
    reply = '```json\n[{"title": "## Intro", "level": 1, "passages": [0, 1, 9]},' \
        ' {"title": "", "passages": [2]}, {"title": "Body", "passages": [2, "3"]}, 7]\n```'  # fmt: skip
    entries = toc_entries(reply, 4)
    assert [(e.title, e.passages) for e in entries] == [("Intro", (0, 1)), ("Body", (2,))]
    assert toc_entries("no json here", 4) == []
    titles = ["Winter feeding", "Migration routes", "Feeding"]
    assert best_entries("What do cranes eat when feeding in winter?", titles, 2) == [
        (0, 1.0),
        (2, 1.0),
    ]
    assert best_entries("Routes?", titles, 3) == [(1, 0.5)]


def test_tavily_search_over_http() -> None:
    with FakeTavily() as tavily:
        search = TavilySearch("tvly-x", base_url=tavily.base_url + "/")
        [page] = search.search("sourdough feeding", 3)
        assert page.url == "https://bread.example/sourdough" and page.score == 1.0
        assert search.search("nothing matches", 3) == []
        assert "tvly" not in repr(search)
        refused = TavilySearch("wrong", base_url=tavily.base_url)
        try:
            refused.search("cranes", 3)
        except WebSearchError as error:
            assert error.message == "Web search (Tavily) refused the API key."
            assert "wrong" not in error.message
        else:
            raise AssertionError("a refused key must raise")
    gone = TavilySearch("tvly-x", base_url=tavily.base_url, timeout=2)
    try:
        gone.search("cranes", 3)
    except WebSearchError as error:
        assert error.message.startswith("Web search (Tavily) failed: ")
    else:
        raise AssertionError("a closed server must raise")
