"""Mark the words of a chunk that match the query: ``<em>word</em>``.

A word matches when the search tokenizer turns it into a query term, so "Flows" is marked for a
query about "flow" exactly when full-text search matched it. Han text has no spaces: its query
terms are marked where they occur.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from ragserve.ingest.tokenizer import tokenize

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_WORD = rf"[^\W_{_HAN}]+(?:(?<=\d)\.\d+)*"


@lru_cache(maxsize=65536)
def _word_terms(word: str) -> frozenset[str]:
    return frozenset(tokenize(word))


@lru_cache(maxsize=256)
def _splitter(han_terms: tuple[str, ...]) -> re.Pattern[str]:
    """Splits text into ``[between, word, between, word, ..., between]``."""
    return re.compile("(" + "|".join([*map(re.escape, han_terms), _WORD]) + ")")


class Highlighter:
    """Marks the words of texts that yield one of ``terms``: one per query, reused for every
    chunk of its page, so each distinct word is tested once."""

    def __init__(self, terms: Collection[str]) -> None:
        self._wanted = frozenset(terms)
        han = sorted((t for t in self._wanted if _HAN_CHAR.search(t)), key=len, reverse=True)
        self._splitter = _splitter(tuple(han))
        self._marks: dict[str, bool] = {}

    def __call__(self, content: str) -> str:
        """``content`` with each word that yields one of the terms wrapped in ``<em>``."""
        wanted, marks = self._wanted, self._marks
        if not wanted or not content:
            return content
        parts = self._splitter.split(content)
        words = parts[1::2]
        distinct = set(words)
        for word in distinct.difference(marks):
            marks[word] = word in wanted or not wanted.isdisjoint(_word_terms(word))
        if not any(marks[word] for word in distinct):
            return content
        parts[1::2] = [f"<em>{word}</em>" if marks[word] else word for word in words]
        return "".join(parts)


def highlight(content: str, terms: Collection[str]) -> str:
    """``content`` with each word that yields one of ``terms`` wrapped in ``<em>``."""
    return Highlighter(terms)(content)
