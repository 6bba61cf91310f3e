"""Which parses are split into page-range tasks, and into which ranges.

Only PDFs are split, and only for chunk methods whose chunks of a page depend on nothing but
nearby pages: naive (and the methods chunked as naive: knowledge_graph, audio, unknown names),
presentation and picture (one chunk per page). The others need the whole document at once:

* one: the whole document is one chunk;
* qa, table, tag: a question and its answer, a table's header and its rows, may sit on two pages;
* resume: the name and the sections are found across the whole document;
* email: not paged (listed for completeness);
* manual, paper, book, laws: a chunk starts with the path of the headings above it, which may be
  many pages before it; paper's abstract is found once per document.

A split changes naive chunks only where a chunk would have run across a range boundary: each range
is chunked on its own, and headings are told from body text by the font sizes of the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]

from ragserve.ingest.parsers.pdf import PDFIUM_LOCK

WHOLE_DOCUMENT_METHODS = frozenset(
    {"one", "qa", "table", "tag", "resume", "email", "manual", "paper", "book", "laws"}
)


def selected_pages(parser_config: Mapping[str, Any]) -> list[tuple[int, int]] | None:
    """The parser_config's ``pages``: valid 1-based inclusive ranges, ``None`` for all pages."""
    pages = parser_config.get("pages")
    if not isinstance(pages, list) or not pages:
        return None
    ranges = []
    for item in pages:
        if isinstance(item, list | tuple) and len(item) == 2:
            first, last = item
            if isinstance(first, int) and isinstance(last, int) and 1 <= first <= last:
                ranges.append((first, last))
    return ranges or None


def task_page_size(parser_config: Mapping[str, Any], default: int) -> int:
    """Pages per task: the document's ``task_page_size`` when a positive int, else ``default``."""
    size = parser_config.get("task_page_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    return default


def plan(
    page_count: int, selected: list[tuple[int, int]] | None, size: int
) -> list[tuple[int, int]] | None:
    """The selected pages (all when ``None``) as ranges of at most ``size`` pages, in order, or
    ``None`` when at most ``size`` pages are selected (one task parses them). Overlapping and
    adjacent selections are joined first; each range lies inside one of them."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(selected or [(1, page_count)]):
        first, last = max(first, 1), min(last, page_count)
        if first > last:
            continue
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    if sum(last - first + 1 for first, last in merged) <= size:
        return None
    return [
        (start, min(start + size - 1, last))
        for first, last in merged
        for start in range(first, last + 1, size)
    ]


def splittable(suffix: str, chunk_method: str) -> bool:
    return suffix.lower().lstrip(".") == "pdf" and chunk_method not in WHOLE_DOCUMENT_METHODS


def pdf_page_count(data: bytes) -> int | None:
    """The PDF's number of pages; ``None`` when PDFium cannot open it (the parser will say why)."""
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return None
        try:
            return len(document)
        finally:
            document.close()
