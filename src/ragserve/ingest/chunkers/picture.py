"""picture: the OCR text of an image (or of each scanned page) as one chunk per page."""

from __future__ import annotations

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.one import joined
from ragserve.ingest.chunkers.presentation import by_page
from ragserve.ingest.types import ParsedDocument


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """One chunk per page with all its text, marked ``fields["ocr"] = True``; none without text."""
    drafts: list[ChunkDraft] = []
    for blocks in by_page(kept_blocks(doc, options)).values():
        content, used = joined(blocks, options.html4excel)
        if content:
            drafts.append(draft(content, used, {"ocr": True}))
    return drafts
