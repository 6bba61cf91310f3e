"""HTML pages through lxml.html: headings, paragraphs, list items, code and tables.

Scripts, styles, navigation, footers and other non-content elements are dropped first. Text
outside any block element (say, directly in a ``div``) becomes TEXT blocks too.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

from ragserve.ingest.parsers.html_depth import flatten
from ragserve.ingest.parsers.text import damaged_file, decode_text, table_block
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# As browsers do (WHATWG Encoding): these labels mean a superset encoding.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_DROPPED = (
    "script",
    "style",
    "nav",
    "footer",
    "noscript",
    "template",
    "svg",
    "iframe",
    "canvas",
    "object",
    "embed",
    "select",
    "button",
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_LISTS = frozenset({"ul", "ol", "menu"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hgroup",
        "hr", "html", "legend", "main", "menu", "ol", "p", "section", "summary", "ul",
    }
)  # fmt: skip
_LINE_BREAK = "\x00"  # a <br>; NUL cannot come from decoded text


def parse_html(data: bytes) -> ParsedDocument:
    """An HTML file; its charset from a BOM, then ``<meta charset>``, then detection."""
    match = _META_CHARSET.search(data[:8192])
    declared = match.group(1).decode("ascii").lower() if match else None
    if declared and declared.startswith(("utf-16", "utf-32", "utf16", "utf32")):
        declared = None  # a page that can say so in ASCII is not UTF-16
    return parse_html_text(
        decode_text(data, declared=_CHARSET_ALIASES.get(declared or "", declared))
    )


def parse_html_text(text: str) -> ParsedDocument:
    """HTML already decoded (an e-mail's HTML body, say)."""
    text = _XML_DECLARATION.sub("", text, count=1).replace("\x00", "")
    if not text.strip():
        return ParsedDocument()
    with damaged_file("The file is not a readable HTML document."):
        try:
            # Without huge_tree, libxml2 drops everything after an element nested 256 deep.
            # A parser per call: lxml parsers must not be shared between threads.
            parser = lxml.html.HTMLParser(huge_tree=True)
            root = lxml.html.document_fromstring(text, parser=parser)
            if _too_deep(parser):  # libxml2 stopped reading at 2048 levels: flatten, again
                parser = lxml.html.HTMLParser(huge_tree=True)
                root = lxml.html.document_fromstring(flatten(text), parser=parser)
        except lxml.etree.ParserError:  # nothing but comments, say
            return ParsedDocument()
        title_element = root.find(".//title")
        title = _normalize(title_element.text_content()) if title_element is not None else ""
        for element in list(root.iter(*_DROPPED)):
            element.drop_tree()
        for element in list(root.iter(lxml.etree.Comment, lxml.etree.ProcessingInstruction)):
            element.drop_tree()
        body = root.find("body")
        walker = _Walker()
        walker.visit(body if body is not None else root)
        walker.flush()
        return ParsedDocument(blocks=walker.blocks, title=title)


def _too_deep(parser: Any) -> bool:
    return any("Excessive depth" in entry.message for entry in parser.error_log)


class _Walker:
    """Turns the element tree into blocks in document order."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._inline: list[str] = []

    def flush(self) -> None:
        """The inline text gathered so far becomes a TEXT block."""
        lines = (_normalize(line) for line in "".join(self._inline).split(_LINE_BREAK))
        self._inline.clear()
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(Block(kind=BlockKind.TEXT, text=text))

    def visit(self, root: Any) -> None:
        """Walk ``root`` with a stack of work, not recursion: pages can nest very deeply."""
        work: list[Any] = [root]  # elements to enter, text to gather, or None: flush
        while work:
            item = work.pop()
            if item is None:
                self.flush()
            elif isinstance(item, str):
                self._inline.append(item)
            else:
                work.extend(reversed(self._enter(item)))

    def _enter(self, element: Any) -> list[Any]:
        """Handle an element; what is left to do for its children, in order."""
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag or element.get("hidden") is not None:
            return []
        if tag in _HEADINGS:
            self._add(BlockKind.HEADING, _normalize(element.text_content()), _HEADINGS[tag])
        elif tag == "pre":
            self._add(BlockKind.CODE, element.text_content().strip("\n").rstrip())
        elif tag == "table":
            self.flush()
            block = _table(element)
            if block is not None:
                self.blocks.append(block)
        elif tag == "li":
            self._add(BlockKind.LIST_ITEM, _own_text(element))
            return [child for child in element if _is_list(child)]
        elif tag == "br":
            self._inline.append(_LINE_BREAK)
        elif tag in _BLOCKS:
            self.flush()
            return [*_children(element), None]
        else:
            return _children(element)
        return []

    def _add(self, kind: BlockKind, text: str, level: int = 0) -> None:
        self.flush()
        if text:
            self.blocks.append(Block(kind=kind, text=text, level=level))


def _children(element: Any) -> list[Any]:
    """An element's text, then each child followed by the text after it."""
    work: list[Any] = [element.text or ""]
    for child in element:
        work.extend((child, child.tail or ""))
    return work


def _is_list(element: Any) -> bool:
    return isinstance(element.tag, str) and element.tag.lower() in _LISTS


def _own_text(item: Any) -> str:
    """A list item's text without that of the lists nested in it."""
    parts = [item.text or ""]
    for child in item:
        if not _is_list(child):
            parts.append(child.text_content() if isinstance(child.tag, str) else "")
        parts.append(child.tail or "")
    return _normalize(" ".join(parts))


def _table(table: Any) -> Block | None:
    """Rows of a table (not of tables nested in it); spanned grid positions are left empty."""
    rows: list[list[str]] = []
    pending: dict[int, int] = {}  # column -> rows still covered by a rowspan above
    header = False
    for index, tr in enumerate(table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")):
        cells = tr.xpath("./td | ./th")
        if index == 0:  # a header row is marked up as one
            in_head = tr.getparent() is not None and tr.getparent().tag == "thead"
            header = in_head or (bool(cells) and all(cell.tag == "th" for cell in cells))
        row: list[str] = []
        for cell in cells:
            while pending.get(len(row), 0) > 0:
                pending[len(row)] -= 1
                row.append("")
            colspan = _span(cell.get("colspan"))
            rowspan = _span(cell.get("rowspan"))
            for offset in range(colspan):
                if rowspan > 1:
                    pending[len(row) + offset] = rowspan - 1
            row.append(_normalize(cell.text_content()))
            row.extend([""] * (colspan - 1))
        last = max((column for column, left in pending.items() if left > 0), default=-1)
        while len(row) <= last:
            if pending.get(len(row), 0) > 0:
                pending[len(row)] -= 1
            row.append("")
        rows.append(row)
    return table_block(rows, has_header=header and len(rows) > 1)


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or "1"), 1), 1000)
    except ValueError:
        return 1


def _normalize(text: str) -> str:
    return " ".join(text.split())
