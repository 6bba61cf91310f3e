"""Chunkers: one module per ``chunk_method``, each with ``chunk(doc, options, count_tokens)``.

``chunker_for(chunk_method)`` picks one; ``docs/chunk-methods.md`` describes what each does.
"""

from __future__ import annotations

from ragserve.ingest.chunkers import (
    book,
    email,
    laws,
    manual,
    naive,
    one,
    paper,
    picture,
    presentation,
    qa,
    resume,
    table,
    tag,
)
from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    Chunker,
    ChunkingOptions,
    CountTokens,
    parse_delimiters,
)

__all__ = [
    "CHUNKERS",
    "ChunkDraft",
    "Chunker",
    "ChunkingOptions",
    "CountTokens",
    "chunker_for",
    "parse_delimiters",
]

CHUNKERS: dict[str, Chunker] = {
    "naive": naive.chunk,
    "qa": qa.chunk,
    "table": table.chunk,
    "one": one.chunk,
    "manual": manual.chunk,
    "paper": paper.chunk,
    "book": book.chunk,
    "laws": laws.chunk,
    "presentation": presentation.chunk,
    "picture": picture.chunk,
    "email": email.chunk,
    "resume": resume.chunk,
    "tag": tag.chunk,
    # No graph or transcript step of their own here: their text is chunked as naive.
    "knowledge_graph": naive.chunk,
    "audio": naive.chunk,
}


def chunker_for(chunk_method: str) -> Chunker:
    """The chunker of ``chunk_method``; naive for an unknown method."""
    return CHUNKERS.get(chunk_method, naive.chunk)
