"""Split ``<think>…</think>`` reasoning out of a streamed answer, tags split across deltas."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Feed text deltas; get ``(is_reasoning, text)`` pieces back in order."""

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False

    def feed(self, text: str) -> list[tuple[bool, str]]:
        self._buffer += text
        pieces: list[tuple[bool, str]] = []
        while self._buffer:
            tag = CLOSE if self._thinking else OPEN
            at = self._buffer.find(tag)
            if at >= 0:
                if at:
                    pieces.append((self._thinking, self._buffer[:at]))
                self._buffer = self._buffer[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_suffix(self._buffer, tag)
            ready = self._buffer[: len(self._buffer) - keep]
            if ready:
                pieces.append((self._thinking, ready))
            self._buffer = self._buffer[len(ready) :]
            break
        return pieces

    def flush(self) -> list[tuple[bool, str]]:
        rest, self._buffer = self._buffer, ""
        return [(self._thinking, rest)] if rest else []


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that begins ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
