from __future__ import annotations

import codecs

import pytest

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.text import decode_text, parse_text
from ragserve.ingest.types import BlockKind, ParseError

FRENCH = (
    "Le café était très chaud. Les élèves ont mangé des crêpes à la crème près du lycée.\n\n"
    "Deuxième paragraphe : où êtes-vous allés cet été ?"
)
CHINESE = "这是一个测试文件。我们需要检查中文编码是否能够被正确识别。\n\n第二段落：数据处理与检索。"


def test_paragraphs_split_on_blank_lines() -> None:
    data = b"First line\nsecond line\n\n\n  \nSecond paragraph\n\t\nThird\n"
    parsed = parse_text(data)
    assert [(block.kind, block.text) for block in parsed.blocks] == [
        (BlockKind.TEXT, "First line\nsecond line"),
        (BlockKind.TEXT, "Second paragraph"),
        (BlockKind.TEXT, "Third"),
    ]
    assert parsed.page_count == 0


def test_indentation_inside_a_paragraph_is_kept() -> None:
    (block,) = parse_file(b"def f():\n    return 1\n", suffix="py").blocks
    assert block.text == "def f():\n    return 1"


def test_crlf_and_cr_line_ends() -> None:
    parsed = parse_text(b"one\r\ntwo\r\n\r\nthree\rfour")
    assert [block.text for block in parsed.blocks] == ["one\ntwo", "three\nfour"]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (FRENCH, "latin-1"),
        (FRENCH, "cp1252"),
        (CHINESE, "gbk"),
        (CHINESE, "utf-16"),  # with BOM
        (FRENCH, "utf-16-le"),  # without BOM
        (FRENCH, "utf-16-be"),
        (CHINESE, "utf-8-sig"),
        (FRENCH, "utf-32"),
    ],
)
def test_encodings(text: str, encoding: str) -> None:
    parsed = parse_file(text.encode(encoding), suffix="txt")
    assert [block.text for block in parsed.blocks] == text.split("\n\n")


def test_bom_is_not_part_of_the_text() -> None:
    assert decode_text(codecs.BOM_UTF8 + b"abc") == "abc"


def test_declared_charset_wins_over_detection() -> None:
    assert decode_text("naïve".encode("cp1252"), declared="cp1252") == "naïve"


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00",
        b"abc\x00def",
        bytes(range(1, 32)) * 10,
        bytes(range(128, 256)) * 4,
    ],
    ids=["elf", "nul", "controls", "high-bytes"],
)
def test_binary_is_not_text(data: bytes) -> None:
    with pytest.raises(ParseError) as raised:
        parse_file(data, suffix="txt")
    assert str(raised.value) == "The file is not text."


def test_whitespace_only_gives_no_blocks() -> None:
    assert parse_file(b" \n\n\t\n", suffix="log").blocks == []
