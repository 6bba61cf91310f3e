"""ExcelProcessor (RAGFlow's ``excel_processor.py``): spreadsheets in and out. ``operation``:

* ``read``: the files ``input_files`` name (references) as rows: ``data`` is ``{<file>[_<sheet>]:
  [{column: value}]}``, ``summary`` counts rows and columns, ``markdown`` shows the first 10
  rows of each sheet (``sheet_selection``: all, first, or sheet names, comma-separated);
* ``merge``: all their sheets as one (``merge_strategy`` concat, or join: an outer join on
  the column ``join_on``): ``data`` is ``{"merged": rows}``;
* ``transform``: the value ``transform_data`` names (rows, one object, or ``{sheet: rows}``)
  as ``data`` and ``markdown``;
* ``output``: that value written as ``output_format`` xlsx (a sheet per key) or csv (the first)
  named ``output_filename``: ``attachment`` is ``{doc_id, format, file_name, base64}``.

A file is a ``data:…;base64,`` URL (or a list of them: the first), read with ingestion's
spreadsheet reader (xlsx, xls, ods, csv). Values are text, as the reader gives them. Files
uploaded to RAGFlow's canvas (``{id, name}``) are not read yet: they fail with a message
saying so. The written file is kept as an agent attachment (``doc_id``, downloaded from
``GET /api/v1/file/download/{doc_id}``) and is also in ``base64``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from typing import Any, Literal

import xlsxwriter  # type: ignore[import-untyped]  # no stubs
from pydantic import Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.ingest.parsers.spreadsheet import parse_spreadsheet
from ragserve.ingest.types import ParseError

Rows = list[dict[str, Any]]
DATA_URL = re.compile(r"^data:([^;,]*)(;base64)?,(.*)$", re.DOTALL)
SUFFIXES = {"text/csv": "csv", "application/vnd.ms-excel": "xls",
            "application/vnd.oasis.opendocument.spreadsheet": "ods"}  # fmt: skip


class ExcelProcessorParams(ComponentParams):
    input_files: list[str] = Field(default_factory=list)
    operation: Literal["read", "merge", "transform", "output"] = "read"
    sheet_selection: str = "all"
    merge_strategy: Literal["concat", "join"] = "concat"
    join_on: str = ""
    transform_instructions: str = ""
    transform_data: str = ""
    output_format: Literal["xlsx", "csv"] = "xlsx"
    output_filename: str = "output"

    @field_validator("input_files", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("operation", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def _file(context: RunContext, value: Any, owner: str) -> tuple[bytes, str] | None:
    """The bytes and the kind (xlsx, csv…) of a file value: a file uploaded to the agent
    (``{id, name}``), or a ``data:`` URL; None for no file."""
    if isinstance(value, list):
        return _file(context, value[0], owner) if value else None
    if isinstance(value, dict) and (value.get("id") or value.get("file_id")):
        data = context.environment.read_attachment(str(value.get("id") or value.get("file_id")))
        suffix = str(value.get("name") or "").rsplit(".", 1)[-1].lower()
        return data, suffix if suffix in SUFFIXES.values() else "xlsx"
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    match = DATA_URL.match(value)
    if match is None or not match.group(2):
        raise ComponentError(f"{owner}: a file must be a base64 data: URL.")
    try:
        data = base64.b64decode(match.group(3), validate=False)
    except (binascii.Error, ValueError):
        raise ComponentError(f"{owner}: the file's base64 is not valid.") from None
    return data, SUFFIXES.get(match.group(1).lower(), "xlsx")


def _sheets(data: bytes, kind: str, selection: str, owner: str) -> dict[str, Rows]:
    try:
        parsed = parse_spreadsheet(data, suffix=kind)
    except ParseError as error:
        raise ComponentError(f"{owner}: {error}") from None
    sheets: dict[str, Rows] = {}
    for index, block in enumerate(b for b in parsed.blocks if b.rows):
        name = block.section or f"Sheet{index + 1}"
        header = [cell or f"column{i + 1}" for i, cell in enumerate(block.rows[0])]
        sheets[name] = [dict(zip(header, row, strict=False)) for row in block.rows[1:]]
    names = list(sheets)
    if kind == "csv":  # one sheet: the selection is for workbooks
        return sheets
    if selection == "first":
        names = names[:1]
    elif selection != "all":
        wanted = [s.strip() for s in selection.split(",")]
        names = [name for name in wanted if name in sheets]
    return {name: sheets[name] for name in names}


def _columns(rows: Rows) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def _cell(value: Any) -> str:
    return variables.as_text(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Rows) -> str:
    columns = _columns(rows)
    if not columns:
        return ""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def as_sheets(data: Any) -> dict[str, Rows] | None:
    """Rows, one object, or ``{sheet: rows}`` as sheets; None for anything else."""
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        return {
            str(k): [r if isinstance(r, dict) else {"value": r} for r in v] for k, v in data.items()
        }
    if isinstance(data, dict):
        return {"Sheet1": [data]}
    if isinstance(data, list):
        return {"Sheet1": [r if isinstance(r, dict) else {"value": r} for r in data]}
    return None


def sheet_names(names: list[str]) -> list[str]:
    """Excel's rules: 31 characters, none of ``\\/*?:[]``, not History, unique."""
    used: set[str] = set()
    safe = []
    for name in names:
        base = re.sub(r"[\\/*?:\[\]]", "_", name).strip("'")
        base = (f"{base}_" if base.casefold() == "history" else base)[:31] or "Sheet"
        candidate, counter = base, 2
        while candidate.casefold() in used:
            suffix = f"_{counter}"
            candidate, counter = f"{base[: 31 - len(suffix)]}{suffix}", counter + 1
        used.add(candidate.casefold())
        safe.append(candidate)
    return safe


def workbook(sheets: dict[str, Rows]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in zip(sheet_names(list(sheets)), sheets.values(), strict=True):
        sheet = book.add_worksheet(name)
        columns = _columns(rows)
        sheet.write_row(0, 0, columns)
        for r, row in enumerate(rows, start=1):
            for c, column in enumerate(columns):
                value = row.get(column)
                ok = isinstance(value, str | int | float | bool) or value is None
                sheet.write(r, c, value if ok else variables.as_text(value))
    book.close()
    return buffer.getvalue()


def delimited(rows: Rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = _columns(rows)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([variables.as_text(row.get(c)) for c in columns])
    return buffer.getvalue().encode()


class ExcelProcessor(Component):
    component_name = "ExcelProcessor"
    Params = ExcelProcessorParams

    @property
    def settings(self) -> ExcelProcessorParams:
        assert isinstance(self.params, ExcelProcessorParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for reference in self.settings.input_files:
            yield "input_files", reference_of(reference)
        if self.settings.transform_data.strip():
            yield "transform_data", reference_of(self.settings.transform_data)

    def _inputs(self, context: RunContext) -> Iterator[tuple[str, dict[str, Rows]]]:
        owner = f"ExcelProcessor {self.id}"
        for number, reference in enumerate(self.settings.input_files, start=1):
            found = _file(context, context.value(reference_of(reference)), owner)
            if found is not None:
                data, kind = found
                yield (
                    f"file{number}.{kind}",
                    _sheets(data, kind, self.settings.sheet_selection, owner),
                )

    def run(self, context: RunContext) -> dict[str, Any]:
        operation = self.settings.operation
        if operation == "read":
            return self._read(context)
        if operation == "merge":
            return self._merge(context)
        value = (
            context.value(reference_of(self.settings.transform_data))
            if self.settings.transform_data.strip()
            else None
        )
        sheets = as_sheets(value)
        if sheets is None:
            if value is None:
                return {
                    "summary": "No data to output"
                    if operation == "output"
                    else "Transform data is empty"
                }
            return {"data": {"raw": variables.as_text(value)}, "markdown": variables.as_text(value),
                    "summary": "Transformed data ready for processing"}  # fmt: skip
        markdown = "\n\n".join(
            f"### {name}\n\n{markdown_table(rows)}" for name, rows in sheets.items()
        )
        if operation == "transform":
            return {
                "data": sheets,
                "markdown": markdown,
                "summary": "Transformed data ready for processing",
            }
        return self._output(context, sheets, markdown)

    def _read(self, context: RunContext) -> dict[str, Any]:
        data: dict[str, Rows] = {}
        summaries, parts = [], []
        for filename, sheets in self._inputs(context):
            for name, rows in sheets.items():
                key = f"{filename}_{name}" if len(sheets) > 1 else filename
                data[key] = rows
                columns = _columns(rows)
                more = "..." if len(columns) > 5 else ""
                summaries.append(f"**{key}**: {len(rows)} rows, {len(columns)} columns "
                                 f"({', '.join(columns[:5])}{more})")  # fmt: skip
                parts.append(f"### {key}\n\n{markdown_table(rows[:10])}\n")
        return {"data": data, "summary": "\n".join(summaries) or "No Excel files found",
                "markdown": "\n\n".join(parts) or "No data"}  # fmt: skip

    def _merge(self, context: RunContext) -> dict[str, Any]:
        tables = [rows for _, sheets in self._inputs(context) for rows in sheets.values()]
        if not tables:
            return {"data": {}, "summary": "No data to merge"}
        key = self.settings.join_on.strip()
        if self.settings.merge_strategy == "join" and key:
            merged = tables[0]
            for table in tables[1:]:
                merged = _outer_join(merged, table, key)
        else:
            merged = [row for table in tables for row in table]
        summary = (f"Merged {len(tables)} sources into {len(merged)} rows, "
                   f"{len(_columns(merged))} columns")  # fmt: skip
        return {"data": {"merged": merged}, "summary": summary,
                "markdown": markdown_table(merged[:20])}  # fmt: skip

    def _output(
        self, context: RunContext, sheets: dict[str, Rows], markdown: str
    ) -> dict[str, Any]:
        settings = self.settings
        if settings.output_format == "csv":
            content = delimited(next(iter(sheets.values())))
        else:
            content = workbook(sheets)
        name = f"{settings.output_filename or 'output'}.{settings.output_format}"
        total = sum(len(rows) for rows in sheets.values())
        return {
            "attachment": {"doc_id": context.environment.store_attachment(content),
                           "format": settings.output_format, "file_name": name,
                           "base64": base64.b64encode(content).decode("ascii")},
            "summary": f"Generated {name} with {len(sheets)} sheet(s), {total} total rows",
            "data": sheets,
            "markdown": markdown,
        }  # fmt: skip


def _outer_join(left: Rows, right: Rows, key: str) -> Rows:
    """Rows of both sides matched on ``key`` (pandas' outer merge, one-to-one per key)."""
    by_key: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for row in [*left, *right]:
        value = variables.as_text(row.get(key))
        if value not in by_key:
            by_key[value] = {}
            order.append(value)
        by_key[value].update(row)
    return [by_key[value] for value in order]
