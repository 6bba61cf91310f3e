"""book: like manual, and "Chapter 3 ..." / "第三章 ..." lines in the text open chapters."""

from __future__ import annotations

import re

from ragserve.ingest.chunkers.base import ChunkDraft, ChunkingOptions, CountTokens, kept_blocks
from ragserve.ingest.chunkers.structure import Marker, render, sections
from ragserve.ingest.types import ParsedDocument

NUMERAL = r"[0-9一二三四五六七八九十百千零〇两]+"
CHAPTER_MARKERS = (
    Marker(re.compile(r"(?:Chapter|CHAPTER)\s+(?:[0-9]+|[IVXLC]+)\b.{0,60}$"), 1, True),
    Marker(re.compile(rf"第\s*{NUMERAL}\s*[章回卷].{{0,40}}$"), 1, True),
)


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Chunks within one chapter or section each, prefixed with the heading path."""
    found = sections(kept_blocks(doc, options), CHAPTER_MARKERS)
    return render(found, options, count_tokens)
