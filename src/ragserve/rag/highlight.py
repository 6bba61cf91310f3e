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


def highlight(content: str, terms: Collection[str]) -> str:
    """``content`` with each word that yields one of ``terms`` wrapped in ``<em>``."""
    wanted = frozenset(terms)
    if not wanted or not content:
        return content
    han_terms = tuple(sorted((t for t in wanted if _HAN_CHAR.search(t)), key=len, reverse=True))
    parts = _splitter(han_terms).split(content)
    words = parts[1::2]
    marked = {
        word for word in set(words) if word in wanted or not wanted.isdisjoint(_word_terms(word))
    }
    if not marked:
        return content
    parts[1::2] = [f"<em>{word}</em>" if word in marked else word for word in words]
    return "".join(parts)
