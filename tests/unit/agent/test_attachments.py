"""A Message's ``output_format`` files: each format opens in a reader of that format."""

from __future__ import annotations

import io
import zipfile

import pdfplumber
import pytest
from docx import Document
from python_calamine import CalamineWorkbook

from ragserve.agent.attachments import extension, render

TEXT = "# Report\n\nOwls hunt at night (mostly).\n\n| bird | legs |\n|---|---|\n| owl | 2 |\n"


def test_markdown_and_html() -> None:
    assert render(TEXT, "markdown") == render(TEXT, "md") == TEXT.encode()
    html = render(TEXT, "html").decode()
    assert "<h1>Report</h1>" in html and "<td>owl</td>" in html
    assert (extension("markdown"), extension("pdf")) == ("md", "pdf")


def test_docx() -> None:
    document = Document(io.BytesIO(render(TEXT, "docx")))
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert paragraphs[0] == ("Heading 1", "Report")
    assert ("Normal", "Owls hunt at night (mostly).") in paragraphs


def test_xlsx_rows_from_lines_and_tables() -> None:
    data = render(TEXT, "xlsx")
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert sheet == [
        ["# Report", ""],
        ["Owls hunt at night (mostly).", ""],
        ["bird", "legs"],
        ["owl", "2"],
    ]


def test_pdf_pages_of_text() -> None:
    long = "\n".join(f"line {n} (é, 漢)" for n in range(120))
    with pdfplumber.open(io.BytesIO(render(long, "pdf"))) as pdf:
        assert len(pdf.pages) == 3
        text = pdf.pages[0].extract_text()
    assert text.splitlines()[0] == "line 0 (é, ?)"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        render(TEXT, "odt")
