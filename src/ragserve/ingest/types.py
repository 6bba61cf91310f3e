"""What parsers produce and chunkers consume: blocks of text with where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BlockKind(StrEnum):
    TEXT = "text"
    HEADING = "heading"
    TABLE = "table"
    IMAGE = "image"  # a picture or a scanned page; ``text`` holds its OCR text, if any
    CODE = "code"
    LIST_ITEM = "list_item"


@dataclass(frozen=True)
class Box:
    """A rectangle on a page in PDF points, origin top-left: (x0, top) to (x1, bottom)."""

    x0: float
    top: float
    x1: float
    bottom: float


@dataclass(frozen=True)
class Block:
    """One piece of a document in reading order.

    ``page`` is 1-based for paged formats (PDF pages, slides, sheets count as pages) and 0 where a
    format has no pages. ``level`` is the heading level (1 = top) for headings, else 0. A table
    keeps its cells in ``rows`` (first row = header when ``has_header``) and a plain-text rendering
    in ``text``.
    """

    kind: BlockKind
    text: str
    page: int = 0
    box: Box | None = None
    level: int = 0
    rows: tuple[tuple[str, ...], ...] = ()
    has_header: bool = False
    section: str = ""  # e.g. the sheet name of a spreadsheet or the slide title


@dataclass
class ParsedDocument:
    """A parser's output. ``page_count`` is 0 for formats without pages."""

    blocks: list[Block] = field(default_factory=list)
    page_count: int = 0
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Rendered page images (PNG bytes) by 1-based page number, when the caller asked for them.
    page_images: dict[int, bytes] = field(default_factory=dict)


class ParseError(Exception):
    """The file cannot be parsed; the message is shown to the user as the document's progress."""
