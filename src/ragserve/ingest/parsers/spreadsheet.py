"""Spreadsheets: xlsx, xlsm, xls and ods through python-calamine; csv and tsv through ``csv``.

Each sheet becomes one TABLE block: ``section`` is the sheet name, ``page`` the sheet's 1-based
position in the workbook. Formulas give their cached values, dates ISO strings.
"""

from __future__ import annotations

import csv
import datetime
import io
import sys
from collections.abc import Sequence

from python_calamine import CalamineWorkbook, PasswordError, SheetTypeEnum

from ragserve.ingest.parsers.text import (
    PROTECTED,
    clean_rows,
    damaged_file,
    decode_text,
    is_encrypted_office_file,
    table_block,
)
from ragserve.ingest.types import Block, ParsedDocument, ParseError

_Cell = int | float | str | bool | datetime.time | datetime.date | datetime.datetime
_CellOrDelta = _Cell | datetime.timedelta
_CSV_DELIMITERS = ",;\t|"
_SNIFF_SIZE = 64 * 1024


def parse_spreadsheet(data: bytes, *, suffix: str = "xlsx") -> ParsedDocument:
    """A workbook (xlsx, xlsm, xls, ods) or a delimited text file (csv, tsv) by ``suffix``."""
    suffix = suffix.lower().lstrip(".")
    if suffix in {"csv", "tsv"}:
        return parse_delimited(data, delimiter="\t" if suffix == "tsv" else None)
    if is_encrypted_office_file(data):
        raise ParseError(PROTECTED)
    try:
        with damaged_file(f"The file is not a readable .{suffix} workbook."):
            return _parse_workbook(data)
    except ParseError as error:
        if isinstance(error.__cause__, PasswordError):
            raise ParseError(PROTECTED) from error.__cause__
        raise


def _parse_workbook(data: bytes) -> ParsedDocument:
    with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
        blocks: list[Block] = []
        metadata_list = workbook.sheets_metadata
        for index, name in enumerate(workbook.sheet_names, start=1):
            if index <= len(metadata_list) and metadata_list[index - 1].typ not in (
                SheetTypeEnum.WorkSheet,
                SheetTypeEnum.MacroSheet,
            ):
                continue
            values = workbook.get_sheet_by_name(name).to_python()
            block = _sheet_block(values, page=index, section=name)
            if block is not None:
                blocks.append(block)
        return ParsedDocument(blocks=blocks, page_count=len(workbook.sheet_names))


def _sheet_block(
    values: Sequence[Sequence[_CellOrDelta]], *, page: int, section: str
) -> Block | None:
    rows = clean_rows([[cell_text(value) for value in row] for row in values])
    width = len(rows[0]) if rows else 0
    # A header: more rows follow, and the first row's cells are all text, none blank.
    header = (
        len(rows) > 1
        and all(rows[0])
        and all(isinstance(value, str) for value in values[0][:width])
    )
    return table_block(rows, has_header=header, page=page, section=section)


def cell_text(value: _CellOrDelta) -> str:
    """A cell value as text: integers without ``.0``, dates and times in ISO form."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return _duration(value)
    return str(value)


def _duration(value: datetime.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def parse_delimited(data: bytes, *, delimiter: str | None = None) -> ParsedDocument:
    """A csv (delimiter sniffed among ``, ; tab |`` unless given) or tsv file: one TABLE."""
    text = decode_text(data)
    if delimiter is None:
        delimiter = _sniff_delimiter(text[:_SNIFF_SIZE])
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with damaged_file("The file is not a readable delimited text file."):
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    block = table_block(rows, page=1)
    return ParsedDocument(blocks=[block] if block else [], page_count=1)


def _sniff_delimiter(sample: str) -> str:
    lines = sample.split("\n")
    if len(lines) > 1:
        sample = "\n".join(lines[:-1])  # the last line may be cut
    try:
        return csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS).delimiter
    except csv.Error:
        return ","
