"""File parsers: bytes of an uploaded file in, a ParsedDocument (blocks in reading order) out.

``parse_file`` picks the parser by the file's suffix. Each parser's module is imported only when
a file of its type comes along. Whatever goes wrong surfaces as ParseError, whose message is
short enough to show the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress

from ragserve.ingest.types import ParsedDocument, ParseError

logger = logging.getLogger(__name__)

__all__ = ["SUPPORTED_SUFFIXES", "parse_file", "preload"]

_Parser = Callable[[bytes], ParsedDocument]

SPREADSHEET_SUFFIXES = frozenset({"xlsx", "xlsm", "xlsb", "xls", "ods", "csv", "tsv"})
HTML_SUFFIXES = frozenset({"html", "htm", "xhtml"})
MARKDOWN_SUFFIXES = frozenset({"md", "markdown", "mdx"})
JSON_LINES_SUFFIXES = frozenset({"jsonl", "ldjson", "ndjson"})
IMAGE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"})
# Plain text, source code, configuration and logs: read as paragraphs of text.
TEXT_SUFFIXES = frozenset(
    {
        "txt", "text", "log", "out", "asc", "nfo", "py", "pyi", "pyw", "js", "mjs", "cjs", "jsx",
        "ts", "tsx", "java", "c", "cc", "cpp", "cxx", "h", "hh", "hpp", "hxx", "cs", "go", "rs",
        "rb", "php", "kt", "kts", "swift", "scala", "m", "mm", "r", "lua", "pl", "pm", "sh",
        "bash", "zsh", "fish", "ps1", "bat", "cmd", "sql", "dart", "groovy", "gradle", "vb", "css",
        "scss", "sass", "less", "vue", "svelte", "proto", "graphql", "gql", "ini", "cfg", "conf",
        "toml", "yml", "yaml", "xml", "properties", "env", "tex", "rst", "adoc", "org", "srt",
        "vtt",
    }
)  # fmt: skip
_OLD_FORMATS = {
    "doc": "Old .doc files are not supported; save it as .docx.",
    "ppt": "Old .ppt files are not supported; save it as .pptx.",
    "msg": "Outlook .msg files are not supported yet; save the message as .eml.",
}
SUPPORTED_SUFFIXES = (
    frozenset({"pdf", "docx", "pptx", "json", "eml"})
    | SPREADSHEET_SUFFIXES
    | HTML_SUFFIXES
    | MARKDOWN_SUFFIXES
    | JSON_LINES_SUFFIXES
    | IMAGE_SUFFIXES
    | TEXT_SUFFIXES
)


def parse_file(
    data: bytes,
    *,
    suffix: str,
    pages: Sequence[tuple[int, int]] | None = None,
    want_tables: bool = True,
    want_page_images: bool = False,
    ocr: bool = True,
) -> ParsedDocument:
    """Parse ``data`` as a file of type ``suffix`` (``"pdf"``, ``".DOCX"`` …).

    ``pages`` (1-based inclusive ranges), ``want_tables`` and ``want_page_images`` apply to PDFs;
    ``ocr`` to PDFs, and to e-mail attachments. Raises ParseError, and nothing else, when the
    file cannot be parsed.
    """
    suffix = suffix.strip().lower().lstrip(".")
    if not data:
        raise ParseError("The file is empty.")
    try:
        parser = _parser_for(
            suffix, pages=pages, want_tables=want_tables, want_page_images=want_page_images, ocr=ocr
        )
        return parser(data)
    except ParseError:
        raise
    except Exception as exc:
        logger.warning("Parsing a .%s file failed", suffix, exc_info=True)
        raise ParseError(f"The .{suffix} file could not be parsed; it may be damaged.") from exc


def preload(suffix: str) -> None:
    """Import the parser of files of type ``suffix`` now (a worker process does, so that the
    child processes it parses in do not import it again each time)."""
    with suppress(ParseError):
        _parser_for(
            suffix.strip().lower().lstrip("."),
            pages=None,
            want_tables=True,
            want_page_images=False,
            ocr=True,
        )


def _parser_for(
    suffix: str,
    *,
    pages: Sequence[tuple[int, int]] | None,
    want_tables: bool,
    want_page_images: bool,
    ocr: bool,
) -> _Parser:
    if suffix in _OLD_FORMATS:
        raise ParseError(_OLD_FORMATS[suffix])
    if suffix == "pdf":
        from ragserve.ingest.parsers.pdf import parse_pdf

        def pdf(data: bytes) -> ParsedDocument:
            return parse_pdf(
                data,
                pages=pages,
                want_tables=want_tables,
                want_page_images=want_page_images,
                ocr=ocr,
            )

        return pdf
    if suffix in IMAGE_SUFFIXES:
        from ragserve.ingest.parsers.image import parse_image

        return parse_image
    if suffix == "eml":
        from ragserve.ingest.parsers.email import parse_email

        return lambda data: parse_email(data, ocr=ocr)
    if suffix in SPREADSHEET_SUFFIXES:
        from ragserve.ingest.parsers.spreadsheet import parse_spreadsheet

        return lambda data: parse_spreadsheet(data, suffix=suffix)
    parser = _simple_parser(suffix)
    if parser is None:
        if not suffix:
            raise ParseError("Files without a type suffix cannot be parsed.")
        raise ParseError(f"Files of type .{suffix} cannot be parsed.")
    return parser


def _simple_parser(suffix: str) -> _Parser | None:
    """The parser for a suffix whose parser takes the bytes alone."""
    if suffix == "docx":
        from ragserve.ingest.parsers.docx import parse_docx

        return parse_docx
    if suffix == "pptx":
        from ragserve.ingest.parsers.pptx import parse_pptx

        return parse_pptx
    if suffix in HTML_SUFFIXES:
        from ragserve.ingest.parsers.html import parse_html

        return parse_html
    if suffix in MARKDOWN_SUFFIXES:
        from ragserve.ingest.parsers.markdown import parse_markdown

        return parse_markdown
    if suffix == "json":
        from ragserve.ingest.parsers.jsonl import parse_json

        return parse_json
    if suffix in JSON_LINES_SUFFIXES:
        from ragserve.ingest.parsers.jsonl import parse_jsonl

        return parse_jsonl
    if suffix in TEXT_SUFFIXES:
        from ragserve.ingest.parsers.text import parse_text

        return parse_text
    return None
