"""Cutting text into pieces: on delimiters, at sentence ends, and to fit a token budget."""

from __future__ import annotations

import re

from ragserve.ingest.chunkers.base import CountTokens

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_SENTENCE = re.compile(r".+?(?:[.!?;](?=\s|\Z)\s*|[。！？；]\s*|\Z)", re.S)
_ATOM = re.compile(rf"[{_CJK}]\s*|[^\s{_CJK}]+\s*|\s+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def split_on_delimiters(text: str, delimiters: tuple[str, ...]) -> list[str]:
    """``text`` cut after each delimiter (kept on the piece before it); blank pieces dropped."""
    if not delimiters:
        return [text] if text.strip() else []
    pattern = "(" + "|".join(re.escape(d) for d in delimiters) + ")"
    parts = re.split(pattern, text)
    pieces = [
        parts[i] + (parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)
    ]
    return [piece for piece in pieces if piece.strip()]


def sentences(text: str) -> list[str]:
    """``text`` cut after sentence-ending punctuation; joining the result gives ``text`` back."""
    return _SENTENCE.findall(text) or [text]


def is_mostly_cjk(text: str) -> bool:
    """Whether at least half of the non-space characters are CJK."""
    visible = len(re.sub(r"\s", "", text))
    return visible > 0 and 2 * len(_CJK_CHAR.findall(text)) >= visible


def _finer(unit: str, level: int) -> list[str]:
    """Sentences break into words (a CJK character is a word), words into characters."""
    return _ATOM.findall(unit) if level == 0 else list(unit)


def fit(text: str, first: int, budget: int, count_tokens: CountTokens) -> list[str]:
    """Cut ``text`` into parts of at most ``first`` tokens (the first part) and ``budget`` tokens.

    Cuts fall at sentence ends where possible, else between words (a CJK character is a word);
    only a word longer than ``budget`` is cut between characters. The first part is ``""`` when
    not even the first word fits in ``first``. Only a single character can exceed the budget.
    """
    parts: list[str] = []
    current: list[str] = []
    used = 0
    stack: list[tuple[str, int]] = [(unit, 0) for unit in reversed(sentences(text))]
    while stack:
        unit, level = stack.pop()
        tokens = count_tokens(unit)
        limit = budget if parts else first
        if used + tokens <= limit:
            current.append(unit)
            used += tokens
        elif current:
            parts.append("".join(current).strip())
            current, used = [], 0
            stack.append((unit, level))
        elif level == 0 or (level == 1 and tokens > budget):  # words only of a too-long word
            stack.extend((piece, level + 1) for piece in reversed(_finer(unit, level)))
        elif not parts and limit < budget:
            parts.append("")
            stack.append((unit, level))
        else:
            current.append(unit)
            used += tokens
    if current:
        parts.append("".join(current).strip())
    return [part for i, part in enumerate(parts) if part or i == 0]
