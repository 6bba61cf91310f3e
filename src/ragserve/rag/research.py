"""Reading the model's replies in deep research and table-of-contents extraction, and matching
a question against a table of contents. Pure functions: the loop that calls the model lives in
``services.deep_research``, the parse-time and question-time TOC steps in ``services.toc``."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragserve.tokenizer import tokenize

_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*(.+?)\s*$")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def numbered_items(reply: str, limit: int) -> list[str]:
    """The items of a numbered (or bulleted) list, at most ``limit``, without repeats."""
    items: list[str] = []
    for line in reply.splitlines():
        match = _NUMBERED.match(line)
        item = match.group(1).strip() if match else ""
        if item and item.lower() not in {known.lower() for known in items}:
            items.append(item)
    return items[:limit]


@dataclass(frozen=True)
class Verdict:
    enough: bool
    queries: list[str]
    """New queries to search when not enough."""


def verdict(reply: str, limit: int) -> Verdict:
    """The review step's decision: ``ENOUGH``, or ``MORE`` and new queries. A reply that is
    neither, or ``MORE`` without a query, counts as enough: nothing more could be searched."""
    first = next((line.strip() for line in reply.splitlines() if line.strip()), "")
    if first.upper().startswith("ENOUGH"):
        return Verdict(True, [])
    queries = numbered_items(reply, limit)
    return Verdict(not queries, queries)


@dataclass(frozen=True)
class TocEntry:
    title: str
    level: int
    passages: tuple[int, ...]
    """Numbers of the passages (chunks, in document order) under the heading."""


def toc_entries(reply: str, passage_count: int) -> list[TocEntry]:
    """The table of contents in the model's JSON reply; entries that are malformed or point at
    no existing passage are left out. A reply that is not JSON gives none."""
    try:
        raw = json.loads(_FENCE.sub("", reply.strip()))
    except ValueError:
        return []
    entries: list[TocEntry] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            continue
        numbers = item.get("passages")
        passages = tuple(
            sorted(
                {
                    n
                    for n in (numbers if isinstance(numbers, list) else [])
                    if isinstance(n, int) and 0 <= n < passage_count
                }
            )
        )
        title = item["title"].strip().lstrip("#").strip()
        level = item.get("level")
        if title and passages:
            entries.append(TocEntry(title, level if isinstance(level, int) else 1, passages))
    return entries


TOC_MATCH_SHARE = 0.5
"""A heading matches a question when at least this share of its words are in the question."""


def toc_match(question: str, title: str) -> float:
    """How well a heading matches the question: the share of the heading's search tokens (the
    full-text tokenizer's: stemmed, stop words dropped) found in the question's, 0 below
    ``TOC_MATCH_SHARE``."""
    wanted = set(tokenize(question))
    words = set(tokenize(title))
    if not words or not wanted:
        return 0.0
    share = len(words & wanted) / len(words)
    return share if share >= TOC_MATCH_SHARE else 0.0


def best_entries(question: str, titles: Sequence[str], limit: int) -> list[tuple[int, float]]:
    """Indexes of the best matching titles with their match, best first, at most ``limit``."""
    scored = [(i, toc_match(question, title)) for i, title in enumerate(titles)]
    scored = [item for item in scored if item[1] > 0]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]
