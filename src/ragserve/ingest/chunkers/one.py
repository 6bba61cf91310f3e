"""one: the whole document as a single chunk."""

from __future__ import annotations

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.tables import render
from ragserve.ingest.types import Block, BlockKind, ParsedDocument


def block_text(block: Block, as_html: bool) -> str:
    """A block's text, tables rendered by ``tables.render``."""
    if block.kind is BlockKind.TABLE and block.rows:
        return render(block, as_html)
    return block.text.strip()


def joined(blocks: list[Block], as_html: bool) -> tuple[str, list[Block]]:
    """The blocks' texts joined with newlines, and the blocks that contributed text."""
    texts = [(block_text(block, as_html), block) for block in blocks]
    used = [(text, block) for text, block in texts if text]
    return "\n".join(text for text, _ in used), [block for _, block in used]


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """One chunk with all the text; no chunk for a document without text."""
    content, used = joined(kept_blocks(doc, options), options.html4excel)
    return [draft(content, used)] if content else []
