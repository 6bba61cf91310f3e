"""Hybrid scoring arithmetic and query-term highlighting."""

from __future__ import annotations

import re

import pytest

from helpers.data import cranfield_text
from ragserve.rag import hybrid
from ragserve.rag.highlight import Highlighter, highlight
from ragserve.store.base import Candidate
from ragserve.tokenizer import tokenize

# term-heavy, vector-heavy and balanced candidates: each weight puts a different one first
CANDIDATES = [
    Candidate("terms", "d1", term_similarity=0.9, vector_similarity=0.1),
    Candidate("vector", "d2", term_similarity=0.0, vector_similarity=0.95),
    Candidate("both", "d1", term_similarity=0.6, vector_similarity=0.6),
]


@pytest.mark.parametrize(
    ("weight", "order"),
    [(0.0, ["terms", "both", "vector"]), (0.5, ["both", "terms", "vector"]),
     (1.0, ["vector", "both", "terms"])],
)  # fmt: skip
def test_fuse_orders_by_the_weighted_sum(weight: float, order: list[str]) -> None:
    ranked = hybrid.fuse(CANDIDATES, weight)
    assert [s.chunk_id for s in ranked] == order
    for scored in ranked:
        expected = (1 - weight) * scored.term_similarity + weight * scored.vector_similarity
        assert scored.similarity == pytest.approx(expected)


def test_rescore_replaces_the_vector_similarity() -> None:
    ranked = hybrid.fuse(CANDIDATES, 0.3)
    rescored = hybrid.rescore(ranked, [0.0, 1.0, 0.5][: len(ranked)], 0.3)
    by_id = {s.chunk_id: s for s in rescored}
    first = ranked[0].chunk_id
    assert by_id[first].vector_similarity == 0.0
    assert by_id[first].similarity == pytest.approx(0.7 * by_id[first].term_similarity)
    assert [s.similarity for s in rescored] == sorted(
        (s.similarity for s in rescored), reverse=True
    )


def test_threshold_page_and_document_counts() -> None:
    ranked = hybrid.fuse(CANDIDATES, 0.5)
    kept = hybrid.above(ranked, 0.5)
    assert [s.chunk_id for s in kept] == ["both", "terms", "vector"][: len(kept)]
    assert all(s.similarity >= 0.5 for s in kept)
    assert [s.chunk_id for s in hybrid.page_of(ranked, 2, 1)] == ["terms"]
    assert hybrid.page_of(ranked, 5, 1) == []
    assert hybrid.document_counts(ranked) == [("d1", 2), ("d2", 1)]


def test_highlight_marks_words_that_yield_query_terms() -> None:
    terms = {"flow", "crane"}
    assert (
        highlight("Flows of cranes; overflow.", terms)
        == "<em>Flows</em> of <em>cranes</em>; overflow."
    )
    assert highlight("nothing here", terms) == "nothing here"
    assert highlight("anything", set()) == "anything"


def test_highlight_marks_han_terms_where_they_occur() -> None:
    assert highlight("我们研究自然语言处理。", {"自然语言"}) == "我们研究<em>自然语言</em>处理。"
    assert highlight("mixed 自然语言 and flow", {"自然语言", "flow"}) == (
        "mixed <em>自然语言</em> and <em>flow</em>"
    )


def test_one_highlighter_marks_a_page_as_fresh_ones_do() -> None:
    page = [
        "Flows of cranes; overflow.",
        "nothing here",
        "A crane flows over the flowing crane.",
        "mixed 自然语言 and flow",
        "",
    ]
    terms = tokenize("crane flow 自然语言")
    shared = Highlighter(terms)
    assert [shared(text) for text in page] == [highlight(text, terms) for text in page]
    assert (
        shared(page[2])
        == "A <em>crane</em> <em>flows</em> over the <em>flowing</em> <em>crane</em>."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dying cranes, lying flat.", "<em>Dying</em> <em>cranes</em>, <em>lying</em> flat."),
        ("Overflow_flows “flowing”", "Overflow_<em>flows</em> “<em>flowing</em>”"),
        ("FLOW 3.14 flows", "<em>FLOW</em> 3.14 <em>flows</em>"),
        ("Café flow", "Café <em>flow</em>"),
        ("no match at all", "no match at all"),
    ],
)
def test_highlight_on_ascii_words_and_beside_other_text(text: str, expected: str) -> None:
    assert highlight(text, tokenize("die lie crane flow")) == expected


def test_plain_ascii_chunks_are_marked_as_splitting_them_would() -> None:
    """Plain chunks only test words that start with a stem prefix; on real text that finds
    every word splitting the text finds."""
    abstracts = cranfield_text(300).split("\n\n")
    questions = [" ".join(text.split()[:12]) for text in abstracts[::7]]
    checked = 0
    for question in questions:
        highlighter = Highlighter(tokenize(question))
        for text in abstracts[:60]:
            if text.isascii() and not re.search(r"\d\.\d", text):
                checked += 1
                assert highlighter(text) == highlighter._mark_every_word(text)
    assert checked > 1000
