"""Mark the words of a chunk that match the query: ``<em>word</em>``.

A word matches when the search tokenizer turns it into a query term, so "Flows" is marked for a
query about "flow" exactly when full-text search matched it. Han text has no spaces: its query
terms are marked where they occur.

In most chunks every word is a run of ASCII letters and digits (any other character is
punctuation or space), and yields at most one term, its Snowball stem: lowercased, the word
starts with that stem but for at most its last ``STEM_SLACK`` letters (``flowing`` -> ``flow``,
``dying`` -> ``die``). So in such a chunk only the words starting with one of those stem
prefixes are tested, found by one regular expression, instead of splitting the whole text into
words; any other text is split.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from ragserve.tokenizer import tokenize

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_WORD = rf"[^\W_{_HAN}]+(?:(?<=\d)\.\d+)*"
_DECIMAL = re.compile(r"\d\.\d")
"""Where ``_WORD`` joins runs (``3.14``): a text holding one is split."""
_FOREIGN_LETTER = re.compile(r"[^\W\x00-\x7f]")
"""A letter or digit outside ASCII: a text holding one is split."""
STEM_SLACK = 2


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
        prefixes = sorted({t[: max(1, len(t) - STEM_SLACK)] for t in self._wanted if t.isascii()})
        self._ascii_candidates = (
            re.compile(f"(?<![a-z0-9])(?:{'|'.join(map(re.escape, prefixes))})[a-z0-9]*")
            if prefixes
            else None
        )

    def __call__(self, content: str) -> str:
        """``content`` with each word that yields one of the terms wrapped in ``<em>``."""
        if not self._wanted or not content:
            return content
        if _words_are_ascii_runs(content):
            lowered = content.lower()
            if len(lowered) == len(content):
                return self._mark_candidates(content, lowered)
        return self._mark_every_word(content)

    def _mark_every_word(self, content: str) -> str:
        parts = self._splitter.split(content)
        words = parts[1::2]
        if not any([self._marked(word) for word in set(words)]):
            return content
        parts[1::2] = [f"<em>{word}</em>" if self._marks[word] else word for word in words]
        return "".join(parts)

    def _mark_candidates(self, content: str, lowered: str) -> str:
        """Test only the words starting with a stem prefix (see the module docstring)."""
        if self._ascii_candidates is None:
            return content
        pieces: list[str] = []
        done = 0
        for match in self._ascii_candidates.finditer(lowered):
            start, end = match.span()
            word = content[start:end]
            if self._marked(word):
                pieces += (content[done:start], "<em>", word, "</em>")
                done = end
        if not pieces:
            return content
        pieces.append(content[done:])
        return "".join(pieces)

    def _marked(self, word: str) -> bool:
        marked = self._marks.get(word)
        if marked is None:
            wanted = self._wanted
            marked = self._marks[word] = word in wanted or not wanted.isdisjoint(_word_terms(word))
        return marked


def _words_are_ascii_runs(content: str) -> bool:
    return (content.isascii() or not _FOREIGN_LETTER.search(content)) and not _DECIMAL.search(
        content
    )


def highlight(content: str, terms: Collection[str]) -> str:
    """``content`` with each word that yields one of ``terms`` wrapped in ``<em>``."""
    return Highlighter(terms)(content)
