"""Word documents (.docx) through python-docx: paragraphs, headings, list items and tables."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.oxml.text.paragraph import CT_P
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragserve.ingest.parsers.text import check_office_container, damaged_file, table_block
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

OLD_DOC = "Old .doc files are not supported; save it as .docx."
_HEADING_STYLE = re.compile(r"heading\s*([1-9])$", re.IGNORECASE)
_SDT = qn("w:sdt")
_SDT_CONTENT = qn("w:sdtContent")


def parse_docx(data: bytes) -> ParsedDocument:
    """Blocks in document order: TEXT, HEADING (by style), LIST_ITEM and TABLE."""
    check_office_container(data, OLD_DOC)
    with damaged_file("The file is not a readable .docx document."):
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        for item in _body_items(document):
            block = _paragraph_block(item) if isinstance(item, Paragraph) else _table(item)
            if block is not None:
                blocks.append(block)
        properties = document.core_properties
        metadata = {"author": properties.author} if properties.author else {}
        return ParsedDocument(
            blocks=blocks, title=(properties.title or "").strip(), metadata=metadata
        )


def _body_items(document: Document) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables of the body in order, including those in content controls."""
    body = document._body

    def walk(parent: BaseOxmlElement) -> Iterator[Paragraph | Table]:
        for child in parent.iterchildren():
            if isinstance(child, CT_P):
                yield Paragraph(child, body)
            elif isinstance(child, CT_Tbl):
                yield Table(child, body)
            elif child.tag == _SDT:
                for content in child.iterchildren(_SDT_CONTENT):
                    yield from walk(content)

    yield from walk(document.element.body)


def _paragraph_block(paragraph: Paragraph) -> Block | None:
    text = paragraph.text.strip()
    if not text:
        return None
    style_name = _style_name(paragraph)
    if style_name.lower() == "title":
        return Block(kind=BlockKind.HEADING, text=text, level=1)
    heading = _HEADING_STYLE.match(style_name)
    if heading:
        return Block(kind=BlockKind.HEADING, text=text, level=int(heading.group(1)))
    if style_name.lower().startswith("list") or _is_numbered(paragraph):
        return Block(kind=BlockKind.LIST_ITEM, text=text)
    return Block(kind=BlockKind.TEXT, text=text)


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError):
        return ""
    return (style.name or "") if style is not None else ""


def _is_numbered(paragraph: Paragraph) -> bool:
    """A bullet or numbered paragraph carries ``w:numPr`` in its properties."""
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


def _table(table: Table) -> Block | None:
    """Rows of cell texts; a merged cell's text appears once, in its first grid position."""
    seen: set[BaseOxmlElement] = set()  # merged grid positions share one w:tc
    rows: list[list[str]] = []
    for row in table.rows:
        cells = [""] * row.grid_cols_before
        for cell in row.cells:
            element = cell._tc
            cells.append("" if element in seen else cell.text)
            seen.add(element)
        rows.append(cells)
    return table_block(rows)
