"""Documents an agent writes (PDFGenerator): Markdown text read into blocks, laid out as a PDF
(with pypdfium2, the PDF library ingestion already uses), a DOCX (python-docx) or plain text.

The PDF uses the standard PDF fonts (Helvetica, Times, Courier: Latin, Greek and Cyrillic
text; other scripts need a font ragserve does not ship). Lines wrap at word boundaries,
measured with the font; pages break when full; a header, a footer, the time, page numbers
and a diagonal watermark are drawn on every page when asked.
"""

from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass, field
from typing import Any

import docx
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # no stubs; ingestion's PDF library
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from docx.shared import Pt
from markdown_it import MarkdownIt
from markdown_it.token import Token

POINTS_PER_INCH = 72.0
PAGE_SIZES = {"A4": (595.0, 842.0), "Letter": (612.0, 792.0)}
BOLD = {"Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold", "Courier": "Courier-Bold"}
MONO = "Courier"


@dataclass(frozen=True)
class Block:
    """A paragraph of the document: ``kind`` heading (with ``level``), paragraph, item
    (a list item, its marker in the text), code, rule or table (its rows in ``text`` as
    ``a | b`` lines)."""

    kind: str
    text: str
    level: int = 0


@dataclass
class Layout:
    """What a document looks like (PDFGenerator's parameters)."""

    title: str = ""
    subtitle: str = ""
    font_family: str = "Helvetica"
    font_size: float = 12
    title_font_size: float = 24
    heading_sizes: tuple[float, float, float] = (18, 16, 14)
    page_size: str = "A4"
    landscape: bool = False
    margins: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    """Top, bottom, left, right, in inches."""
    line_spacing: float = 1.2
    header_text: str = ""
    footer_text: str = ""
    stamp: str = ""
    """The time text drawn at the foot of each page (empty: none)."""
    page_numbers: bool = True
    watermark: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _inline_text(children: list[Token]) -> str:
    parts = []
    for child in children:
        kind = getattr(child, "type", "")
        if kind in ("softbreak", "hardbreak"):
            parts.append(" " if kind == "softbreak" else "\n")
        elif kind in ("text", "code_inline", "image"):
            parts.append(str(getattr(child, "content", "")))
    return "".join(parts)


def blocks_of(markdown: str) -> list[Block]:
    """The blocks of Markdown text, in order."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    blocks: list[Block] = []
    lists: list[list[int]] = []  # per open list: [is ordered, next number]
    heading = 0
    row: list[str] = []
    rows: list[str] = []
    for index, token in enumerate(tokens):
        before = tokens[index - 1].type if index > 0 else ""
        item_start = index > 1 and tokens[index - 2].type == "list_item_open"
        if token.type in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1)
            lists.append([token.type == "ordered_list_open", start])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "heading_open":
            heading = int(token.tag[1:])
        elif token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            rows.append(" | ".join(row))
        elif token.type == "table_close":
            blocks.append(Block("table", "\n".join(rows)))
        elif token.type in ("code_block", "fence"):
            blocks.append(Block("code", token.content.rstrip("\n")))
        elif token.type == "hr":
            blocks.append(Block("rule", ""))
        elif token.type == "inline":
            text = _inline_text(list(token.children or []))
            if before in ("th_open", "td_open"):
                row.append(text)
            elif heading:
                blocks.append(Block("heading", text, heading))
                heading = 0
            elif lists and item_start:
                ordered, number = lists[-1]
                marker = f"{number}." if ordered else "•"
                lists[-1][1] = number + 1
                blocks.append(Block("item", f"{marker} {text}", len(lists)))
            else:
                blocks.append(Block("paragraph", text, len(lists)))
    return blocks


# --- text ------------------------------------------------------------------------------------


def to_text(blocks: list[Block], layout: Layout) -> bytes:
    lines = [line for line in (layout.title, layout.subtitle, layout.stamp) if line]
    if lines:
        lines.append("")
    for block in blocks:
        if block.kind == "heading":
            lines += [
                block.text,
                "=" * len(block.text) if block.level == 1 else "-" * len(block.text),
            ]
        elif block.kind == "rule":
            lines.append("-" * 40)
        else:
            lines.append(("  " * max(0, block.level - 1)) + block.text)
        lines.append("")
    return "\n".join(lines).rstrip("\n").encode() + b"\n"


# --- DOCX ------------------------------------------------------------------------------------


def to_docx(blocks: list[Block], layout: Layout) -> bytes:
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.size = Pt(layout.font_size)
    if layout.title:
        document.add_heading(layout.title, level=0)
    if layout.subtitle:
        document.add_paragraph(layout.subtitle, style="Subtitle")
    for block in blocks:
        if block.kind == "heading":
            document.add_heading(block.text, level=min(block.level, 9))
        elif block.kind == "item":
            marker, _, text = block.text.partition(" ")
            kind = "List Number" if marker.endswith(".") else "List Bullet"
            document.add_paragraph(text, style=kind)
        elif block.kind == "table":
            rows = [line.split(" | ") for line in block.text.splitlines()]
            width = max(len(r) for r in rows)
            table = document.add_table(rows=len(rows), cols=width)
            for r, cells in enumerate(rows):
                for c, text in enumerate(cells):
                    table.cell(r, c).text = text
        elif block.kind == "rule":
            document.add_paragraph("—" * 20)
        else:
            paragraph = document.add_paragraph(block.text)
            if block.kind == "code":
                for run in paragraph.runs:
                    run.font.name = MONO
    section = document.sections[0]
    if layout.header_text:
        section.header.paragraphs[0].text = layout.header_text
    footer = " · ".join(text for text in (layout.footer_text, layout.stamp) if text)
    if footer:
        section.footer.paragraphs[0].text = footer
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- PDF -------------------------------------------------------------------------------------


class _Pdf:
    """A PDF being written, page by page, with the standard fonts."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        width, height = PAGE_SIZES.get(layout.page_size, PAGE_SIZES["A4"])
        self.width, self.height = (height, width) if layout.landscape else (width, height)
        top, bottom, left, right = (m * POINTS_PER_INCH for m in layout.margins)
        self.top, self.bottom, self.left, self.right = top, bottom, left, right
        self.document = pdfium.PdfDocument.new()
        self.fonts: dict[str, Any] = {}
        self.widths: dict[tuple[str, float, str], float] = {}
        self.pages: list[pdfium.PdfPage] = []
        self.y = 0.0

    def font(self, name: str) -> Any:
        if name not in self.fonts:
            self.fonts[name] = pdfium_c.FPDFText_LoadStandardFont(self.document.raw, name.encode())
        return self.fonts[name]

    def _text_object(self, text: str, font: str, size: float) -> Any:
        obj = pdfium_c.FPDFPageObj_CreateTextObj(self.document.raw, self.font(font), size)
        data = (text + "\0").encode("utf-16-le")
        pdfium_c.FPDFText_SetText(obj, (ctypes.c_ushort * (len(data) // 2)).from_buffer_copy(data))
        return obj

    def measure(self, text: str, font: str, size: float) -> float:
        key = (text, size, font)
        if key not in self.widths:
            obj = self._text_object(text, font, size)
            left, bottom, right, top = (ctypes.c_float() for _ in range(4))
            pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
            pdfium_c.FPDFPageObj_Destroy(obj)
            self.widths[key] = max(0.0, right.value - left.value)
        return self.widths[key]

    def draw(self, text: str, font: str, size: float, x: float, y: float, gray: int = 0,
             angle: bool = False, page: pdfium.PdfPage | None = None) -> None:  # fmt: skip
        obj = self._text_object(text, font, size)
        if angle:  # 45°, for the watermark
            c = 0.7071
            pdfium_c.FPDFPageObj_Transform(obj, c, c, -c, c, x, y)
            pdfium_c.FPDFPageObj_SetFillColor(obj, gray, gray, gray, 60)
        else:
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
            pdfium_c.FPDFPageObj_SetFillColor(obj, gray, gray, gray, 255)
        pdfium_c.FPDFPage_InsertObject((page or self.pages[-1]).raw, obj)

    def new_page(self) -> None:
        self.pages.append(self.document.new_page(self.width, self.height))
        self.y = self.height - self.top

    def wrapped(self, text: str, font: str, size: float, width: float) -> list[str]:
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                candidate = f"{line} {word}" if line else word
                if line and self.measure(candidate, font, size) > width:
                    lines.append(line)
                    line = word
                else:
                    line = candidate
            lines.append(line)
        return lines

    def paragraph(self, text: str, font: str, size: float, indent: float = 0.0,
                  space: float = 0.5) -> None:  # fmt: skip
        width = self.width - self.left - self.right - indent
        leading = size * self.layout.line_spacing
        for line in self.wrapped(text, font, size, width):
            if not self.pages or self.y - leading < self.bottom:
                self.new_page()
            self.y -= leading
            if line:
                self.draw(line, font, size, self.left + indent, self.y)
        self.y -= size * space

    def finish(self) -> bytes:
        layout, small = self.layout, 9.0
        if not self.pages:
            self.new_page()
        font = layout.font_family
        for number, page in enumerate(self.pages, start=1):
            if layout.watermark:
                size = 48.0
                span = self.measure(layout.watermark, font, size) * 0.7071
                x, y = self.width / 2 - span / 2, self.height / 2 - span / 2
                self.draw(layout.watermark, font, size, x, y, 160, True, page)
            foot = self.bottom / 2
            if layout.header_text:
                y = self.height - self.top / 2
                self.draw(layout.header_text, font, small, self.left, y, 90, page=page)
            if layout.footer_text:
                self.draw(layout.footer_text, font, small, self.left, foot, 90, page=page)
            if layout.stamp:
                x = (self.width - self.measure(layout.stamp, font, small)) / 2
                self.draw(layout.stamp, font, small, x, foot, 90, page=page)
            if layout.page_numbers:
                label = f"Page {number}"
                x = self.width - self.right - self.measure(label, font, small)
                self.draw(label, font, small, x, foot, 90, page=page)
        for page in self.pages:
            pdfium_c.FPDFPage_GenerateContent(page.raw)
        buffer = io.BytesIO()
        self.document.save(buffer)
        for page in self.pages:
            page.close()
        self.document.close()
        return buffer.getvalue()


def to_pdf(blocks: list[Block], layout: Layout) -> bytes:
    pdf = _Pdf(layout)
    regular = layout.font_family
    bold = BOLD.get(regular, regular)
    if layout.title:
        pdf.paragraph(layout.title, bold, layout.title_font_size, space=0.3)
    if layout.subtitle:
        pdf.paragraph(layout.subtitle, regular, layout.font_size + 2, space=1.0)
    for block in blocks:
        if block.kind == "heading":
            size = layout.heading_sizes[min(block.level, 3) - 1]
            pdf.paragraph(block.text, bold, size, space=0.4)
        elif block.kind == "code" or block.kind == "table":
            pdf.paragraph(block.text, MONO, layout.font_size - 1)
        elif block.kind == "rule":
            pdf.paragraph("_" * 40, regular, layout.font_size)
        else:
            indent = 18.0 * max(0, block.level - (block.kind == "paragraph"))
            pdf.paragraph(block.text, regular, layout.font_size, indent=indent)
    return pdf.finish()
