from __future__ import annotations

import logging
import sys
import types

import pytest

from ragserve.ingest import parsers
from ragserve.ingest.parsers import SUPPORTED_SUFFIXES, TEXT_SUFFIXES, parse_file
from ragserve.ingest.parsers import text as text_module
from ragserve.ingest.types import Block, BlockKind, ParsedDocument, ParseError
from ragserve.services import filetypes


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **functions: object) -> None:
    module = types.ModuleType(f"ragserve.ingest.parsers.{name}")
    for attribute, value in functions.items():
        setattr(module, attribute, value)
    monkeypatch.setitem(sys.modules, module.__name__, module)


def test_empty_file() -> None:
    for suffix in ("txt", "docx", "unknown"):
        with pytest.raises(ParseError) as raised:
            parse_file(b"", suffix=suffix)
        assert str(raised.value) == "The file is empty."


@pytest.mark.parametrize("suffix", ["rtf", "wps", "exe", "numbers", "zip"])
def test_unknown_suffix(suffix: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_file(b"data", suffix=suffix)
    assert str(raised.value) == f"Files of type .{suffix} cannot be parsed."


def test_no_suffix() -> None:
    with pytest.raises(ParseError, match="without a type suffix"):
        parse_file(b"data", suffix="")


@pytest.mark.parametrize("suffix", [*sorted(TEXT_SUFFIXES), "TXT", ".Py", " log "])
def test_text_like_suffixes_read_as_text(suffix: str) -> None:
    parsed = parse_file(b"alpha\n\nbeta", suffix=suffix)
    assert [block.text for block in parsed.blocks] == ["alpha", "beta"]


@pytest.mark.parametrize(
    ("suffix", "data", "kind"),
    [
        ("html", b"<h1>x</h1>", BlockKind.HEADING),
        ("htm", b"<h1>x</h1>", BlockKind.HEADING),
        ("md", b"# x", BlockKind.HEADING),
        ("mdx", b"# x", BlockKind.HEADING),
        ("markdown", b"- x", BlockKind.LIST_ITEM),
        ("csv", b"x,1", BlockKind.TABLE),
        ("tsv", b"x\t1", BlockKind.TABLE),
        ("json", b'{"k": "x"}', BlockKind.TEXT),
        ("jsonl", b'{"k": "x"}', BlockKind.TEXT),
        ("ndjson", b'{"k": "x"}', BlockKind.TEXT),
    ],
)
def test_routing_by_suffix(suffix: str, data: bytes, kind: BlockKind) -> None:
    (block,) = parse_file(data, suffix=suffix).blocks
    assert block.kind == kind
    assert "x" in block.text


def test_paged_documents_get_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, dict[str, object]]] = []

    def parse_pdf(data: bytes, **options: object) -> ParsedDocument:
        calls.append((data, options))
        return ParsedDocument(blocks=[Block(kind=BlockKind.TEXT, text="p", page=2)], page_count=3)

    _fake_module(monkeypatch, "pdf", parse_pdf=parse_pdf)
    parsed = parse_file(
        b"%PDF-1.7",
        suffix="PDF",
        pages=[(2, 3)],
        want_tables=False,
        want_page_images=True,
        ocr=False,
    )
    assert parsed.page_count == 3
    assert calls == [
        (
            b"%PDF-1.7",
            {"pages": [(2, 3)], "want_tables": False, "want_page_images": True, "ocr": False},
        )
    ]


@pytest.mark.parametrize("suffix", ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"])
def test_pictures_go_to_the_picture_parser(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    seen: list[bytes] = []

    def parse_image(data: bytes) -> ParsedDocument:
        seen.append(data)
        return ParsedDocument(blocks=[Block(kind=BlockKind.IMAGE, text="ocr")])

    _fake_module(monkeypatch, "image", parse_image=parse_image)
    assert parse_file(b"pixels", suffix=suffix).blocks[0].kind == BlockKind.IMAGE
    assert seen == [b"pixels"]


def test_unexpected_error_becomes_a_short_parse_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(data: bytes) -> ParsedDocument:
        raise ZeroDivisionError("internal detail /secret/path")

    monkeypatch.setattr(text_module, "parse_text", broken)
    with (
        caplog.at_level(logging.WARNING, logger=parsers.__name__),
        pytest.raises(ParseError) as raised,
    ):
        parse_file(b"hello", suffix="txt")
    message = str(raised.value)
    assert message == "The .txt file could not be parsed; it may be damaged."
    assert "Traceback" not in message
    assert "ZeroDivisionError" in caplog.text


def test_missing_parser_module_becomes_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ragserve.ingest.parsers.image", None)  # import fails
    with pytest.raises(ParseError, match=r"\.png file could not be parsed"):
        parse_file(b"pixels", suffix="png")


def test_parse_errors_pass_through_unchanged() -> None:
    with pytest.raises(ParseError) as raised:
        parse_file(b"\x00\x01", suffix="txt")
    assert str(raised.value) == "The file is not text."


def test_every_document_type_of_the_upload_rules_is_parsed_or_refused_clearly() -> None:
    refused = {"wps", "rtf", "hlp", "pages", "numbers", "key"}
    for suffix in sorted(filetypes._DOC_EXTENSIONS - refused - {"doc", "ppt", "msg"}):
        assert suffix in SUPPORTED_SUFFIXES, suffix
    for suffix in refused:
        with pytest.raises(ParseError, match="cannot be parsed"):
            parse_file(b"x", suffix=suffix)
