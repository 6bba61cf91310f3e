"""A Message's text as a file to download (its ``output_format``): markdown as written, HTML,
DOCX, XLSX (markdown tables become rows of cells, other lines one cell each) or PDF (plain
text lines in Helvetica; characters outside Latin-1 show as ``?``)."""

from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

from docx import Document as DocxDocument
from markdown_it import MarkdownIt

FORMATS = ("markdown", "md", "html", "pdf", "docx", "xlsx")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def extension(output_format: str) -> str:
    return "md" if output_format == "markdown" else output_format


def render(text: str, output_format: str) -> bytes:
    """The file of ``output_format`` (one of ``FORMATS``) holding ``text`` (markdown)."""
    if output_format in ("markdown", "md"):
        return text.encode()
    if output_format == "html":
        body = MarkdownIt("commonmark").enable("table").render(text)
        return (
            f'<!DOCTYPE html>\n<html><meta charset="utf-8"><body>\n{body}</body></html>\n'.encode()
        )
    if output_format == "docx":
        return _docx(text)
    if output_format == "xlsx":
        return _xlsx(text)
    if output_format == "pdf":
        return _pdf(text)
    raise ValueError(f"unknown output format {output_format!r}")


def _docx(text: str) -> bytes:
    document = DocxDocument()
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            document.add_heading(heading.group(2), level=len(heading.group(1)))
        elif line.strip():
            document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or _TABLE_RULE.match(stripped):
            continue
        if stripped.startswith("|"):
            rows.append([cell.strip() for cell in stripped.strip("|").split("|")])
        else:
            rows.append([stripped])
    return rows


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(65 + remainder) + name
    return name


def _xlsx(text: str) -> bytes:
    """A one-sheet workbook of inline strings: the smallest file Excel and LibreOffice open."""
    rows = "".join(
        f'<row r="{r + 1}">'
        + "".join(
            f'<c r="{_column(c)}{r + 1}" t="inlineStr"><is><t xml:space="preserve">'
            f"{escape(value)}</t></is></c>"
            for c, value in enumerate(cells)
        )
        + "</row>"
        for r, cells in enumerate(_rows(text))
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relations = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" Type="{relations}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{relations}"><sheets><sheet name="Sheet1" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" Type="{relations}/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return buffer.getvalue()


def _pdf_text(line: str) -> str:
    data = line.encode("latin-1", "replace").decode("latin-1")
    return data.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf(text: str, lines_per_page: int = 50, width: int = 95) -> bytes:
    """Plain text pages (A4, 11 pt Helvetica, long lines wrapped)."""
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines += [line[i : i + width] for i in range(0, len(line), width)] or [""]
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 "
               "/BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]  # fmt: skip
    kids = []
    for page in pages:
        stream = "BT /F1 11 Tf 14 TL 50 800 Td " + " ".join(f"({_pdf_text(x)}) '" for x in page)
        stream += " ET"
        objects.append(
            f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream"
        )
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objects)} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    table = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{table}\n%%EOF\n".encode()
    )
    return bytes(out)
