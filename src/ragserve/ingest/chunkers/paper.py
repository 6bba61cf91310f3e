"""paper: like manual; the abstract ("Abstract" heading or text) is always a chunk of its own."""

from __future__ import annotations

import re

from ragserve.ingest.chunkers.base import ChunkDraft, ChunkingOptions, CountTokens, kept_blocks
from ragserve.ingest.chunkers.structure import Marker, Section, render, sections
from ragserve.ingest.types import ParsedDocument

_ABSTRACT = re.compile(r"^(?:[0-9.]+\s*)?(?:abstract|摘\s*要)\s*[:：.]?$", re.I)
ABSTRACT_MARKERS = (
    Marker(re.compile(r"(?:Abstract|ABSTRACT)(?=$|\s*[:.—–-])"), 2),
    Marker(re.compile(r"摘\s*要(?=$|\s*[:：])"), 2),
)


def is_abstract(section: Section) -> bool:
    return bool(section.path) and bool(_ABSTRACT.match(section.path[-1]))


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Chunks within one section each, prefixed with the heading path; abstract kept alone."""
    found = sections(kept_blocks(doc, options), ABSTRACT_MARKERS)
    return render(found, options, count_tokens, alone=is_abstract)
