from __future__ import annotations

import io
import zipfile

import docx
import pytest

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.docx import parse_docx
from ragserve.ingest.types import BlockKind, ParseError


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Quarterly report"
    document.core_properties.author = "Ada"
    document.add_heading("Report", level=0)  # style "Title"
    document.add_heading("Introduction", level=1)
    document.add_paragraph("First paragraph.")
    document.add_paragraph("")  # empty: no block
    document.add_paragraph("Alpha", style="List Bullet")
    document.add_paragraph("Beta", style="List Number")
    document.add_heading("Figures", level=2)
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([["Name", "Q1", "Q2"], ["North", "1", "2"], ["South", "3", "4"]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(2, 1).merge(table.cell(2, 2))  # horizontal merge: "3" and "4" become one cell
    table.cell(2, 1).text = "7"
    document.add_paragraph("After the table.")
    document.add_heading("Deep", level=9)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_blocks_in_document_order_with_kinds_and_levels() -> None:
    parsed = parse_docx(_docx_bytes())
    summary = [(block.kind, block.text.split("\n")[0], block.level) for block in parsed.blocks]
    assert summary == [
        (BlockKind.HEADING, "Report", 1),
        (BlockKind.HEADING, "Introduction", 1),
        (BlockKind.TEXT, "First paragraph.", 0),
        (BlockKind.LIST_ITEM, "Alpha", 0),
        (BlockKind.LIST_ITEM, "Beta", 0),
        (BlockKind.HEADING, "Figures", 2),
        (BlockKind.TABLE, "Name | Q1 | Q2", 0),
        (BlockKind.TEXT, "After the table.", 0),
        (BlockKind.HEADING, "Deep", 9),
    ]
    assert all(block.page == 0 for block in parsed.blocks)


def test_title_and_author_from_core_properties() -> None:
    parsed = parse_docx(_docx_bytes())
    assert parsed.title == "Quarterly report"
    assert parsed.metadata == {"author": "Ada"}
    assert parsed.page_count == 0


def test_table_rows_with_merged_cell_once() -> None:
    table = next(block for block in parse_docx(_docx_bytes()).blocks if block.kind == "table")
    assert table.rows == (("Name", "Q1", "Q2"), ("North", "1", "2"), ("South", "7", ""))
    assert table.has_header
    assert table.text == "Name | Q1 | Q2\nNorth | 1 | 2\nSouth | 7 | "


def test_vertically_merged_cell_once() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).text = "Group"
    table.cell(0, 1).text = "a"
    table.cell(1, 1).text = "b"
    table.cell(2, 0).text = "Other"
    table.cell(2, 1).text = "c"
    table.cell(0, 0).merge(table.cell(1, 0))
    buffer = io.BytesIO()
    document.save(buffer)
    (block,) = parse_docx(buffer.getvalue()).blocks
    assert block.rows == (("Group", "a"), ("", "b"), ("Other", "c"))


def test_numbered_paragraph_without_list_style_is_a_list_item() -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Numbered by hand")
    properties = paragraph._p.get_or_add_pPr()
    num_pr = properties._add_numPr()
    num_pr.get_or_add_numId().val = 1
    num_pr.get_or_add_ilvl().val = 0
    buffer = io.BytesIO()
    document.save(buffer)
    (block,) = parse_docx(buffer.getvalue()).blocks
    assert block.kind == BlockKind.LIST_ITEM


def test_dispatch_by_suffix() -> None:
    parsed = parse_file(_docx_bytes(), suffix=".DOCX")
    assert parsed.blocks[1].text == "Introduction"


@pytest.mark.parametrize(
    "data",
    [
        b"this is not a zip file at all",
        b"PK\x03\x04" + b"\x00" * 100,
        _docx_bytes()[:2000],
    ],
    ids=["garbage", "zip-header-only", "truncated"],
)
def test_damaged_files_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"\.docx"):
        parse_docx(data)
    with pytest.raises(ParseError):
        parse_file(data, suffix="docx")


def test_zip_that_is_not_a_word_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ParseError, match=r"not a readable \.docx"):
        parse_docx(buffer.getvalue())


def test_old_doc_is_refused() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    message = "Old .doc files are not supported; save it as .docx."
    with pytest.raises(ParseError) as raised:
        parse_file(ole, suffix="doc")
    assert str(raised.value) == message
    with pytest.raises(ParseError) as raised:
        parse_docx(ole)  # an old .doc renamed to .docx
    assert str(raised.value) == message


def test_password_protected_docx_is_named_as_such() -> None:
    ole = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le")
    )
    with pytest.raises(ParseError, match="password-protected"):
        parse_docx(ole)
