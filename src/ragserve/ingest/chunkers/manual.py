"""manual: sections by heading; each chunk carries its heading path (see ``structure``)."""

from __future__ import annotations

from ragserve.ingest.chunkers.base import ChunkDraft, ChunkingOptions, CountTokens, kept_blocks
from ragserve.ingest.chunkers.structure import render, sections
from ragserve.ingest.types import ParsedDocument


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Chunks within one section each, prefixed with the heading path."""
    return render(sections(kept_blocks(doc, options)), options, count_tokens)
