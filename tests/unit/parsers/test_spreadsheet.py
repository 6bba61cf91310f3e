from __future__ import annotations

import datetime
import io
import re
import zipfile

import pytest
import xlsxwriter  # type: ignore[import-untyped]  # comes with python-pptx (chart data)

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.spreadsheet import cell_text, parse_spreadsheet
from ragserve.ingest.types import BlockKind, ParseError


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sales = workbook.add_worksheet("Sales")
    sales.write_row(0, 0, ["Region", "Units", "Price", "Day"])
    sales.write_row(1, 0, ["  North  ", 3, 2.5])
    sales.write_datetime(
        1, 3, datetime.datetime(2024, 5, 6), workbook.add_format({"num_format": "yyyy-mm-dd"})
    )
    sales.write_row(2, 0, ["South", 4, 1.25, "n/a"])
    sales.write_string(3, 0, "Total")
    sales.write_formula(3, 1, "=B2+B3", None, 7)  # cached value 7
    sales.write_string(3, 5, "   ")  # blank column F: dropped
    sales.write_string(6, 0, " ")  # blank trailing row: dropped
    workbook.add_worksheet("Empty")
    notes = workbook.add_worksheet("Notes")
    notes.write_row(0, 0, [2020, "started"])
    notes.write_row(1, 0, [2021, "grew"])
    workbook.close()
    return buffer.getvalue()


def _ods_bytes() -> bytes:
    content = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="Prices">
<table:table-row>
 <table:table-cell office:value-type="string"><text:p>Item</text:p></table:table-cell>
 <table:table-cell office:value-type="string"><text:p>Price</text:p></table:table-cell>
</table:table-row>
<table:table-row>
 <table:table-cell office:value-type="string"><text:p>tea</text:p></table:table-cell>
 <table:table-cell office:value-type="float" office:value="4"><text:p>4</text:p></table:table-cell>
</table:table-row>
<table:table-row>
 <table:table-cell office:value-type="string"><text:p>day</text:p></table:table-cell>
 <table:table-cell office:value-type="date" office:date-value="2023-02-01">
  <text:p>01/02/23</text:p></table:table-cell>
</table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"""
    manifest = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
<manifest:file-entry manifest:full-path="/"
 manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        # calamine wants content.xml as office suites write it: no whitespace between elements
        archive.writestr("content.xml", re.sub(r">\s+<", "><", content))
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def test_xlsx_one_table_per_non_empty_sheet() -> None:
    parsed = parse_spreadsheet(_xlsx_bytes(), suffix="xlsx")
    assert parsed.page_count == 3
    assert [(block.kind, block.section, block.page) for block in parsed.blocks] == [
        (BlockKind.TABLE, "Sales", 1),
        (BlockKind.TABLE, "Notes", 3),
    ]


def test_xlsx_cells_values_dates_formulas_trimmed() -> None:
    sales = parse_spreadsheet(_xlsx_bytes()).blocks[0]
    assert sales.rows == (
        ("Region", "Units", "Price", "Day"),
        ("North", "3", "2.5", "2024-05-06"),
        ("South", "4", "1.25", "n/a"),
        ("Total", "7", "", ""),
    )
    assert sales.has_header
    assert sales.text.splitlines()[1] == "North | 3 | 2.5 | 2024-05-06"


def test_first_row_with_a_number_is_not_a_header() -> None:
    notes = parse_spreadsheet(_xlsx_bytes()).blocks[1]
    assert notes.rows == (("2020", "started"), ("2021", "grew"))
    assert not notes.has_header


def test_ods() -> None:
    parsed = parse_file(_ods_bytes(), suffix="ods")
    (block,) = parsed.blocks
    assert block.section == "Prices"
    assert block.page == 1
    assert block.rows == (("Item", "Price"), ("tea", "4"), ("day", "2023-02-01"))
    assert block.has_header


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-12.0, "-12"),
        (1234567890123456.0, "1234567890123456"),  # an ID, not 1.23456789012346e+15
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),
        (7, "7"),
        (True, "TRUE"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (datetime.datetime(2024, 1, 2), "2024-01-02"),
        (datetime.time(13, 30), "13:30:00"),
        (datetime.timedelta(hours=26, minutes=5), "26:05:00"),
        ("text", "text"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text  # type: ignore[arg-type]


def test_csv_with_latin1_and_semicolons() -> None:
    data = "Stadt;Einwohner\nKöln;1084831\nMünchen;1512491\n\n".encode("latin-1")
    (block,) = parse_file(data, suffix="csv").blocks
    assert block.rows == (("Stadt", "Einwohner"), ("Köln", "1084831"), ("München", "1512491"))
    assert block.has_header
    assert block.page == 1


def test_csv_quoted_fields_and_ragged_rows() -> None:
    data = b'name,notes\n"Smith, J","said ""hi""\nthen left"\nLee\n'
    (block,) = parse_spreadsheet(data, suffix="csv").blocks
    assert block.rows == (
        ("name", "notes"),
        ("Smith, J", 'said "hi"\nthen left'),
        ("Lee", ""),
    )


def test_csv_without_header() -> None:
    (block,) = parse_spreadsheet(b"1,2\n3,4\n", suffix="csv").blocks
    assert not block.has_header


def test_tsv() -> None:
    (block,) = parse_file(b"a\tb,c\n1\t2,3\n", suffix="tsv").blocks
    assert block.rows == (("a", "b,c"), ("1", "2,3"))


def test_csv_that_is_binary() -> None:
    with pytest.raises(ParseError, match="not text"):
        parse_file(b"a,b\x00\x01\x02\x03", suffix="csv")


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "ods"])
@pytest.mark.parametrize(
    "data",
    [b"not a spreadsheet at all, just words", _xlsx_bytes()[:1500], b"\xd0\xcf\x11\xe0" * 50],
    ids=["garbage", "truncated", "broken-ole"],
)
def test_damaged_workbooks_raise_parse_error(suffix: str, data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_file(data, suffix=suffix)
    with pytest.raises(ParseError, match="workbook"):
        parse_spreadsheet(data, suffix=suffix)


def test_password_protected_workbook() -> None:
    ole = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le")
    )
    with pytest.raises(ParseError, match="password-protected"):
        parse_file(ole, suffix="xlsx")
