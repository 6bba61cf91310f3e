"""table: one chunk per data row of each table; text outside tables is chunked as naive."""

from __future__ import annotations

from ragserve.ingest.chunkers import naive
from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.tables import column_names, data_rows, row_fields, row_text
from ragserve.ingest.types import Block, BlockKind, ParsedDocument


def row_chunks(block: Block, caption: str = "") -> list[ChunkDraft]:
    """``"col1: v1; col2: v2"`` per row, ``fields`` = ``{column: value}`` for every column.

    ``caption`` (the headings right above the table) starts each row's content on its own line.
    """
    names = column_names(block)
    drafts: list[ChunkDraft] = []
    for row in data_rows(block):
        content = "\n".join(t for t in (caption, row_text(names, row)) if t)
        drafts.append(draft(content, [block], row_fields(names, row)))
    return drafts


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Row chunks for tables and naive chunks for the text between them, in document order."""
    drafts: list[ChunkDraft] = []
    text: list[Block] = []
    budget = options.chunk_token_num
    for block in kept_blocks(doc, options):
        if block.kind is BlockKind.TABLE and block.rows:
            cut = len(text)
            while cut and text[cut - 1].kind is BlockKind.HEADING:
                cut -= 1
            drafts.extend(naive.chunk_blocks(text[:cut], options, count_tokens, budget))
            caption = "\n".join(heading.text.strip() for heading in text[cut:])
            drafts.extend(row_chunks(block, caption))
            text = []
        else:
            text.append(block)
    drafts.extend(naive.chunk_blocks(text, options, count_tokens, budget))
    return drafts
