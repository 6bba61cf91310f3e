"""The pieces of an answer: context budget, system prompt, citations, reasoning split."""

from __future__ import annotations

import numpy as np
import pytest

from ragserve.errors import DataError
from ragserve.rag import citations
from ragserve.rag.prompt import (
    CITATION_GUIDE,
    Variable,
    fit_history,
    knowledge_block,
    system_prompt,
)
from ragserve.rag.think import ThinkSplitter
from ragserve.store.base import ChunkRecord
from ragserve.tokenizer import count_tokens


def chunk(content: str, name: str = "a.md") -> ChunkRecord:
    return ChunkRecord("id", "t", "d", "doc", name, content, "")


def test_knowledge_block_stays_within_the_budget() -> None:
    chunks = [chunk(f"passage {i} " + "word " * 100) for i in range(10)]
    one_part = count_tokens(knowledge_block(chunks[:1], 10_000)[0])
    budget = 3 * one_part + one_part // 2
    text, fitted = knowledge_block(chunks, budget)
    assert fitted == 3 and count_tokens(text) <= budget + 3
    assert text.startswith("ID: 0\n├── Title: a.md\n└── Content:\npassage 0")
    assert "ID: 2" in text and "ID: 3" not in text
    one, fitted = knowledge_block(chunks, budget=5)  # the best passage always goes in
    assert fitted == 1 and "passage 0" in one
    assert knowledge_block([], 100) == ("", 0)


def test_history_keeps_the_latest_messages_that_fit() -> None:
    messages = [
        {"role": "user", "content": "old " * 200},
        {"role": "assistant", "content": "older answer " * 100},
        {"role": "user", "content": "recent question"},
        {"role": "assistant", "content": "recent answer"},
        {"role": "user", "content": "now?"},
    ]
    kept = fit_history(messages, budget=40)
    assert [m["content"] for m in kept] == ["recent question", "recent answer", "now?"]
    assert fit_history(messages[-1:], budget=0) == [{"role": "user", "content": "now?"}]
    assert fit_history(messages, budget=10_000)[0]["content"].startswith("old")


def test_system_prompt_fills_declared_variables_only() -> None:
    variables = [Variable("knowledge", False), Variable("style", True)]
    text = system_prompt("{knowledge} | {style} | {unknown} | {}", variables,
                         {"knowledge": "K"}, quote=False)  # fmt: skip
    assert text == "K |  | {unknown} | {}"
    quoted = system_prompt("{knowledge}", variables, {"knowledge": "K"}, quote=True)
    assert quoted == "K" + CITATION_GUIDE
    with pytest.raises(DataError, match="Miss parameter: style"):
        system_prompt("{style}", [Variable("style", False)], {}, quote=False)


@pytest.mark.parametrize(
    ("written", "expected"),
    [("a (ID: 3) b", "a [ID:3] b"), ("a [ID: 12].", "a [ID:12]."), ("a 【ID:1】", "a [ID:1]"),
     ("see ref 2", "see [ID:2]"), ("(id:0)", "[ID:0]"), ("no markers", "no markers")],
)  # fmt: skip
def test_citation_markers_are_normalised(written: str, expected: str) -> None:
    assert citations.normalise(written) == expected


def test_cited_and_invalid_markers() -> None:
    assert citations.cited("x [ID:2] y [ID:0] z [ID:2] [ID:9]", 3) == [2, 0]
    assert citations.drop_invalid("x [ID:2] y [ID:9]", 3) == "x [ID:2] y "


def test_citations_are_inserted_by_similarity() -> None:
    basis = np.eye(4, dtype=np.float32)
    sentences = {"Cranes fly south in winter.": basis[1], "Unrelated words are here now.": basis[3]}

    def embed(texts: list[str]) -> np.ndarray:
        return np.stack([sentences[text] for text in texts])

    answer = "Cranes fly south in winter. Unrelated words are here now."
    cited = citations.insert_citations(answer, [basis[0], basis[1], None], embed)
    assert cited == "Cranes fly south in winter. [ID:1] Unrelated words are here now."
    assert citations.insert_citations("Too short.", [basis[0]], embed) == "Too short."


def test_think_tags_split_across_deltas() -> None:
    splitter = ThinkSplitter()
    pieces = []
    for delta in ["<thi", "nk>plan", " more</th", "ink>answer <", "b>bold"]:
        pieces += splitter.feed(delta)
    pieces += splitter.flush()
    reasoning = "".join(text for is_reasoning, text in pieces if is_reasoning)
    answer = "".join(text for is_reasoning, text in pieces if not is_reasoning)
    assert reasoning == "plan more" and answer == "answer <b>bold"
