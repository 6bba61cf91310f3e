"""PDFGenerator (RAGFlow's ``docs_generator.py``): writes ``content`` (Markdown; references
filled in) as a PDF, a DOCX or plain text (``output_format``), with ``title``, ``subtitle``,
``header_text``, ``footer_text``, ``watermark_text``, page numbers and the time
(``add_page_numbers``, ``add_timestamp``), in ``font_family`` (Helvetica, Times-Roman,
Courier; their bold forms) at ``font_size`` with ``title_font_size`` and
``heading1..3_font_size``, on ``page_size`` A4/Letter, ``orientation``, ``margin_*`` (inches)
and ``line_spacing``.

Outputs: ``pdf_base64`` (the file, base64), ``download`` (JSON text ``{filename, doc_id,
url, path, base64, mime_type, size}``: the file is kept as an agent attachment that
``GET /api/v1/file/download/{doc_id}`` serves to the tenant), ``success``, ``file_path``
(empty: RAGFlow writes it to ``output_directory``).
``logo_*``, ``text_color``, ``title_color`` and ``enable_toc`` are accepted and not drawn.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from ragserve.agent import documents
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
}


class PDFGeneratorParams(ComponentParams):
    output_format: Literal["pdf", "docx", "txt"] = "pdf"
    content: str = Field(min_length=1)
    title: str = ""
    subtitle: str = ""
    header_text: str = ""
    footer_text: str = ""
    font_family: Literal["Helvetica", "Times-Roman", "Courier", "Helvetica-Bold", "Times-Bold"] = (
        "Helvetica"
    )
    font_size: float = Field(12, gt=0)
    title_font_size: float = Field(24, gt=0)
    heading1_font_size: float = Field(18, gt=0)
    heading2_font_size: float = Field(16, gt=0)
    heading3_font_size: float = Field(14, gt=0)
    page_size: Literal["A4", "Letter"] = "A4"
    orientation: Literal["portrait", "landscape"] = "portrait"
    margin_top: float = Field(1.0, gt=0)
    margin_bottom: float = Field(1.0, gt=0)
    margin_left: float = Field(1.0, gt=0)
    margin_right: float = Field(1.0, gt=0)
    line_spacing: float = Field(1.2, gt=0)
    filename: str = ""
    add_page_numbers: bool = True
    add_timestamp: bool = True
    watermark_text: str = ""


def file_name(given: str, extension: str) -> str:
    """A safe file name: ``given`` without path or control characters, else a generated one."""
    name = re.sub(r'[\\/\x00-\x1f?#%*:|<>"]', " ", given or "")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        return f"document_{stamp}_{uuid.uuid4().hex[:8]}.{extension}"
    base = name.rsplit(".", 1)[0] if "." in name else name
    return f"{base[:180].rstrip() or 'file'}.{extension}"


class PDFGenerator(Component):
    component_name = "PDFGenerator"
    Params = PDFGeneratorParams

    @property
    def settings(self) -> PDFGeneratorParams:
        assert isinstance(self.params, PDFGeneratorParams)
        return self.params

    def layout(self, context: RunContext) -> documents.Layout:
        settings = self.settings
        stamp = ""
        if settings.add_timestamp:
            stamp = f"Generated: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')}"
        return documents.Layout(
            title=context.render(settings.title),
            subtitle=context.render(settings.subtitle),
            font_family=settings.font_family,
            font_size=settings.font_size,
            title_font_size=settings.title_font_size,
            heading_sizes=(
                settings.heading1_font_size,
                settings.heading2_font_size,
                settings.heading3_font_size,
            ),
            page_size=settings.page_size,
            landscape=settings.orientation == "landscape",
            margins=(
                settings.margin_top,
                settings.margin_bottom,
                settings.margin_left,
                settings.margin_right,
            ),
            line_spacing=settings.line_spacing,
            header_text=context.render(settings.header_text),
            footer_text=context.render(settings.footer_text),
            stamp=stamp,
            page_numbers=settings.add_page_numbers,
            watermark=context.render(settings.watermark_text),
        )

    def run(self, context: RunContext) -> dict[str, Any]:
        settings = self.settings
        content = context.render(settings.content)
        blocks = documents.blocks_of(content)
        layout = self.layout(context)
        writers = {"pdf": documents.to_pdf, "docx": documents.to_docx, "txt": documents.to_text}
        try:
            data = writers[settings.output_format](blocks, layout)
        except (OSError, ValueError, KeyError) as error:
            raise ComponentError(f"PDFGenerator {self.id}: generation failed: {error}") from None
        encoded = base64.b64encode(data).decode("ascii")
        doc_id = context.environment.store_attachment(data)
        download = {
            "filename": file_name(context.render(settings.filename), settings.output_format),
            "doc_id": doc_id,
            "url": f"/api/v1/file/download/{doc_id}?ext={settings.output_format}",
            "path": "",
            "base64": encoded,
            "mime_type": MIME_TYPES[settings.output_format],
            "size": len(data),
        }
        return {
            "file_path": "",
            "pdf_base64": encoded,
            "download": json.dumps(download),
            "success": True,
        }
