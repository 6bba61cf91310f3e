"""Reading the model's keywords and questions, the settings and the cache key
(``services.auto_keywords``)."""

from __future__ import annotations

from ragserve.services.auto_keywords import (
    Wanted,
    cache_key,
    keyword_items,
    question_items,
    wanted,
)


def test_keywords_are_split_at_commas_and_lines_and_cleaned() -> None:
    reply = 'bread, "sourdough starter"，oven\n1. crust; crust\n- rye.'
    assert keyword_items(reply) == ["bread", "sourdough starter", "oven", "crust", "rye"]
    assert keyword_items("") == []


def test_questions_are_one_per_line_without_numbering() -> None:
    reply = "1. How long does bread rise?\n\n2) Why knead dough?\n- How long does bread rise?"
    assert question_items(reply) == ["How long does bread rise?", "Why knead dough?"]


def test_wanted_reads_positive_integers_only() -> None:
    assert wanted({"auto_keywords": 3, "auto_questions": 0}) == Wanted(3, 0)
    assert not wanted({"auto_keywords": True, "auto_questions": "2"})
    assert not wanted(None)
    assert wanted({"auto_questions": 1})


def test_the_cache_key_changes_with_each_part() -> None:
    base = ("tenant", "keywords", "model@OpenAI", "prompt", "text")
    keys = {cache_key(*base)}
    for index in range(len(base)):
        changed = list(base)
        changed[index] += "x"
        keys.add(cache_key(*changed))
    assert len(keys) == len(base) + 1
    assert cache_key("ab", "c", "", "", "") != cache_key("a", "bc", "", "", "")
