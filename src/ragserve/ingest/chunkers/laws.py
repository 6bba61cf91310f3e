"""laws: sections by heading and by legal markers in the text; one article never shares a chunk.

Parts (编), chapters (章) and 节 are headings on their own line; articles ("Article 12",
"第十二条", "Section 3", "§ 5") open a section whose text starts on the same line.
"""

from __future__ import annotations

import re

from ragserve.ingest.chunkers.base import ChunkDraft, ChunkingOptions, CountTokens, kept_blocks
from ragserve.ingest.chunkers.book import NUMERAL
from ragserve.ingest.chunkers.structure import Marker, render, sections
from ragserve.ingest.types import ParsedDocument

_ROMAN = r"(?:[0-9]+|[IVXLC]+)\b"
LAW_MARKERS = (
    Marker(re.compile(rf"(?:Part|PART|Title|TITLE)\s+{_ROMAN}.{{0,80}}$"), 1, True),
    Marker(re.compile(rf"第\s*{NUMERAL}\s*编.{{0,40}}$"), 1, True),
    Marker(re.compile(rf"(?:Chapter|CHAPTER)\s+{_ROMAN}.{{0,80}}$"), 2, True),
    Marker(re.compile(rf"第\s*{NUMERAL}\s*章.{{0,40}}$"), 2, True),
    Marker(re.compile(rf"第\s*{NUMERAL}\s*节.{{0,40}}$"), 3, True),
    Marker(re.compile(r"(?:Article|ARTICLE|Art\.)\s*[0-9]+[a-z]?\b"), 4),
    Marker(re.compile(r"(?:Section|SECTION|Sec\.)\s*[0-9]+(?:\.[0-9]+)*[a-z]?\b"), 4),
    Marker(re.compile(r"§+\s*[0-9]+(?:\.[0-9]+)*[a-z]?\b"), 4),
    Marker(re.compile(rf"第\s*{NUMERAL}\s*条"), 4),
)


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Chunks within one article (or section) each, prefixed with the heading path."""
    found = sections(kept_blocks(doc, options), LAW_MARKERS)
    return render(found, options, count_tokens, merge_tiny=False)
