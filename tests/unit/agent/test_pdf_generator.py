"""PDFGenerator: Markdown content written as PDF (read back with pypdfium2), DOCX (read back
with python-docx) and text."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import docx
import pypdfium2 as pdfium
import pytest

from ragserve.agent import dsl as dsl_module
from ragserve.agent.components.pdf_generator import file_name
from ragserve.agent.errors import DslError
from unit.agent.conftest import Runner, chain

REPORT = (
    """# Findings about {sys.query}

Cranes migrate every autumn across North America, """
    + "and they fly far " * 40
    + """

## Numbers

* first item
* second item

| bird | km |
|---|---|
| crane | 4000 |
"""
)


def generate(run: Runner, **params: Any) -> tuple[dict[str, Any], bytes]:
    raw = chain(("doc", "PDFGenerator", {"content": REPORT, **params}))
    _, turn = run(raw, "cranes")
    assert turn.error is None, turn.error
    outputs = turn.state.outputs["doc"]
    download = json.loads(outputs["download"])
    data = base64.b64decode(download["base64"])
    assert outputs["pdf_base64"] == download["base64"] and outputs["success"] is True
    assert download["size"] == len(data) and outputs["file_path"] == ""
    assert download["url"] == f"/api/v1/file/download/{download['doc_id']}?ext=" + (
        params.get("output_format") or "pdf"
    )
    assert turn.context.environment.attachments[download["doc_id"]] == data  # type: ignore[attr-defined]
    return download, data


def test_pdf_with_title_header_footer_and_pages(run: Runner) -> None:
    download, data = generate(run, title="Bird report", subtitle="for {sys.query}",
                              header_text="Internal", footer_text="ragserve",
                              watermark_text="DRAFT", filename="../../etc/report.pdf")  # fmt: skip
    assert download["mime_type"] == "application/pdf"
    assert download["filename"] == "etc report.pdf"
    document = pdfium.PdfDocument(data)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
        pages = len(document)
    finally:
        document.close()
    assert "Bird report" in text and "for cranes" in text
    assert "Findings about cranes" in text
    assert "• first item" in text and "crane | 4000" in text
    assert "Internal" in text and "ragserve" in text and "Generated: " in text
    assert "Page 1" in text and "DRAFT" in text
    assert pages == 1


def test_long_content_breaks_pages(run: Runner) -> None:
    _, data = generate(run, content=REPORT * 8, add_timestamp=False, page_size="Letter",
                       orientation="landscape")  # fmt: skip
    document = pdfium.PdfDocument(data)
    try:
        assert len(document) > 2
        assert document[0].get_size() == (792.0, 612.0)
        last = document[len(document) - 1].get_textpage().get_text_range()
        assert f"Page {len(document)}" in last and "Generated" not in last
    finally:
        document.close()


def test_docx(run: Runner) -> None:
    download, data = generate(run, output_format="docx", title="Bird report")
    assert download["filename"].endswith(".docx") and download["filename"].startswith("document_")
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Bird report"
    assert "Findings about cranes" in texts and "first item" in texts
    assert document.tables[0].cell(1, 0).text == "crane"


def test_text(run: Runner) -> None:
    download, data = generate(run, output_format="txt", add_timestamp=False, filename="notes")
    assert download == {**download, "filename": "notes.txt", "mime_type": "text/plain"}
    text = data.decode()
    assert text.startswith("Findings about cranes\n=====")
    assert "• first item" in text


def test_parameters_are_checked() -> None:
    with pytest.raises(DslError, match="parameter `content`"):
        dsl_module.load(chain(("doc", "PDFGenerator", {})))
    with pytest.raises(DslError, match="parameter `output_format`"):
        dsl_module.load(chain(("doc", "PDFGenerator", {"content": "x", "output_format": "odt"})))


def test_file_name() -> None:
    assert file_name("a/b:c.pdf", "docx") == "a b c.docx"
    assert file_name("  ", "pdf").startswith("document_")
