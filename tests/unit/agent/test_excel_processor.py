"""ExcelProcessor: workbooks and csv given as data: URLs read, merged, transformed and
written (read back with python-calamine)."""

from __future__ import annotations

import base64
import io
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]  # no stubs
from python_calamine import CalamineWorkbook

from unit.agent.conftest import Runner, chain

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_url(sheets: dict[str, list[list[Any]]]) -> str:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
    book.close()
    return f"data:{XLSX};base64," + base64.b64encode(buffer.getvalue()).decode()


def csv_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


BIRDS = xlsx_url({"Birds": [["name", "km"], ["crane", 4000], ["swift", 9000]],
                  "Notes": [["name", "note"], ["crane", "tall"]]})  # fmt: skip
MORE = csv_url("name,km\nstork,10000\n")


def process(
    run: Runner, variables: dict[str, Any], **params: Any
) -> tuple[dict[str, Any], str | None]:
    raw = chain(("xl", "ExcelProcessor", params))
    raw["variables"] = {k: {"type": "object", "value": v} for k, v in variables.items()}
    _, turn = run(raw)
    return turn.state.outputs.get("xl", {}), turn.error


def test_read_every_sheet(run: Runner) -> None:
    outputs, error = process(run, {"a": BIRDS}, input_files=["{env.a}"])
    assert error is None
    assert outputs["data"] == {
        "file1.xlsx_Birds": [{"name": "crane", "km": "4000"}, {"name": "swift", "km": "9000"}],
        "file1.xlsx_Notes": [{"name": "crane", "note": "tall"}],
    }
    assert (
        outputs["summary"].splitlines()[0] == "**file1.xlsx_Birds**: 2 rows, 2 columns (name, km)"
    )
    assert "| name | km |\n|---|---|\n| crane | 4000 |" in outputs["markdown"]


def test_read_selected_sheets_and_csv(run: Runner) -> None:
    outputs, _ = process(run, {"a": BIRDS, "b": [MORE]}, input_files=["env.a", "env.b"],
                         sheet_selection="Notes")  # fmt: skip
    assert outputs["data"] == {"file1.xlsx": [{"name": "crane", "note": "tall"}],
                               "file2.csv": [{"name": "stork", "km": "10000"}]}  # fmt: skip


def test_merge_concat_and_join(run: Runner) -> None:
    outputs, _ = process(run, {"a": BIRDS, "b": MORE}, input_files=["env.a", "env.b"],
                         operation="merge")  # fmt: skip
    assert [row["name"] for row in outputs["data"]["merged"]] == [
        "crane",
        "swift",
        "crane",
        "stork",
    ]
    assert outputs["summary"] == "Merged 3 sources into 4 rows, 3 columns"
    outputs, _ = process(run, {"a": BIRDS}, input_files=["env.a"], operation="merge",
                         merge_strategy="join", join_on="name")  # fmt: skip
    assert outputs["data"]["merged"] == [{"name": "crane", "km": "4000", "note": "tall"},
                                         {"name": "swift", "km": "9000"}]  # fmt: skip


def test_transform_and_output_xlsx(run: Runner) -> None:
    rows = {"Birds/2024": [{"name": "crane", "km": 4000}], "History": [{"year": 1900}]}
    outputs, _ = process(run, {"rows": rows}, operation="transform", transform_data="env.rows")
    assert outputs["data"] == rows and "### Birds/2024" in outputs["markdown"]
    outputs, error = process(run, {"rows": rows}, operation="output", transform_data="{env.rows}",
                             output_filename="birds")  # fmt: skip
    assert error is None
    attachment = outputs["attachment"]
    assert attachment["file_name"] == "birds.xlsx" and attachment["format"] == "xlsx"
    assert outputs["summary"] == "Generated birds.xlsx with 2 sheet(s), 2 total rows"
    book = CalamineWorkbook.from_filelike(io.BytesIO(base64.b64decode(attachment["base64"])))
    assert book.sheet_names == ["Birds_2024", "History_"]
    assert book.get_sheet_by_name("Birds_2024").to_python() == [["name", "km"], ["crane", 4000.0]]


def test_output_csv(run: Runner) -> None:
    outputs, _ = process(run, {"rows": [{"a": 1, "b": "x,y"}]}, operation="output",
                         transform_data="env.rows", output_format="csv")  # fmt: skip
    assert base64.b64decode(outputs["attachment"]["base64"]).decode() == 'a,b\r\n1,"x,y"\r\n'
    assert outputs["attachment"]["doc_id"].startswith("att-")


def test_uploaded_files_and_bad_data(run: Runner) -> None:
    _, error = process(run, {"f": {"id": "abc", "name": "x.xlsx"}}, input_files=["env.f"])
    assert error is not None and "not stored by ragserve yet" in error
    _, error = process(run, {"f": "data:text/csv,plain"}, input_files=["env.f"])
    assert error == "ExcelProcessor xl: a file must be a base64 data: URL."
    _, error = process(
        run, {"f": f"data:{XLSX};base64,bm90IGEgd29ya2Jvb2s="}, input_files=["env.f"]
    )
    assert error is not None and error.startswith("ExcelProcessor xl: The file is not a readable")
    outputs, _ = process(run, {}, operation="output", transform_data="env.none")
    assert outputs["summary"] == "No data to output"
