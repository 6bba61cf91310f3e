"""tag: rows of (content, tags) for a tag dataset; the tags are the chunk's keywords.

Rows come from tables (first column content, second column a comma-separated tag list; the
header row skipped) and from "content<TAB>tags" lines in text.
"""

from __future__ import annotations

import re

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.tables import data_rows
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

_TAG_SEPARATOR = re.compile(r"[,，、]")


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags, stripped, blanks and repeats left out, in order."""
    tags = (tag.strip() for tag in _TAG_SEPARATOR.split(text))
    return list(dict.fromkeys(tag for tag in tags if tag))


def _tag_draft(content: str, tag_text: str, block: Block) -> ChunkDraft | None:
    content, tags = content.strip(), parse_tags(tag_text)
    if not content or not tags:
        return None
    chunk = draft(content, [block], {"tags": tags})
    chunk.important_keywords = list(tags)
    return chunk


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """One chunk per (content, tags) row with content and at least one tag."""
    pairs: list[tuple[str, str, Block]] = []
    for block in kept_blocks(doc, options):
        if block.kind is BlockKind.TABLE and block.rows:
            pairs.extend((row[0], row[1], block) for row in data_rows(block) if len(row) >= 2)
        elif block.kind is not BlockKind.TABLE:
            for line in block.text.splitlines():
                if len(cells := line.split("\t")) == 2:
                    pairs.append((cells[0], cells[1], block))
    drafts = [_tag_draft(content, tags, block) for content, tags, block in pairs]
    return [chunk for chunk in drafts if chunk is not None]
