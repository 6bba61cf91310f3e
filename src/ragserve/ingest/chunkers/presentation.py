"""presentation: one chunk per page (slide or PDF page) with all that page's text."""

from __future__ import annotations

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.one import joined
from ragserve.ingest.types import Block, ParsedDocument


def by_page(blocks: list[Block]) -> dict[int, list[Block]]:
    """Blocks grouped by page, pages in order of first appearance."""
    pages: dict[int, list[Block]] = {}
    for block in blocks:
        pages.setdefault(block.page, []).append(block)
    return pages


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """One chunk per page that has text; never split by the token budget."""
    drafts: list[ChunkDraft] = []
    for blocks in by_page(kept_blocks(doc, options)).values():
        content, used = joined(blocks, options.html4excel)
        if content:
            drafts.append(draft(content, used))
    return drafts
