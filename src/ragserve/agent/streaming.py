"""An output that is still being generated: an LLM's answer that a downstream Message streams
to the client as it comes (spec ragflow-more A.2, step 3), while every other reader gets the
whole text."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """A piece of generated text; ``reasoning`` for a reasoning model's thoughts."""

    text: str
    reasoning: bool = False


class StreamedText:
    """Pieces produced lazily by ``source`` (the model is called when the first piece is read).

    ``pieces()`` yields them as they come, once; a second reader, or one that comes after the
    first finished, gets what was produced. ``text()`` is the whole answer (without reasoning),
    read to the end if nobody did.
    """

    def __init__(self, source: Iterable[Piece]) -> None:
        self._source: Iterator[Piece] | None = iter(source)
        self._produced: list[Piece] = []
        self._lock = threading.Lock()

    def pieces(self) -> Iterator[Piece]:
        with self._lock:
            source, self._source = self._source, None
        if source is None:
            yield from list(self._produced)
            return
        for piece in source:
            self._produced.append(piece)
            yield piece

    def text(self) -> str:
        for _ in self.pieces():
            pass
        return "".join(piece.text for piece in self._produced if not piece.reasoning)

    def __str__(self) -> str:
        return self.text()
