"""The tables the PDF parser finds in the sample PDFs, held cell by cell.

tests/data/pdf-tables.json is the parser's table output (page, box, cells, header) for every
sample, recorded before table finding moved from pdfminer to PDFium's characters (issue 20): a faster
parser must find the same tables. Since then four cells of 009 read PDFium's text of math glyphs
(minus signs, relations) that pdfminer dropped or misread; everything else is as pdfminer had it. After a deliberate change to table finding, rewrite it with
``PYTHONPATH=src:tests python tests/unit/parsers/test_pdf_tables.py`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.data import PDF_SAMPLES, TEST_DATA
from ragserve.ingest.parsers.pdf import parse_pdf
from ragserve.ingest.types import BlockKind, ParseError

GOLDEN = TEST_DATA / "pdf-tables.json"
SAMPLES = sorted(PDF_SAMPLES.glob("*/*.pdf"))


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _tables(path: Path) -> list[dict[str, Any]]:
    try:
        doc = parse_pdf(path)
    except ParseError:
        return []
    return [
        {
            "page": b.page,
            "box": [round(v, 2) for v in (b.box.x0, b.box.top, b.box.x1, b.box.bottom)]
            if b.box
            else None,
            "has_header": b.has_header,
            "rows": [list(r) for r in b.rows],
        }
        for b in doc.blocks
        if b.kind == BlockKind.TABLE
    ]


def _golden() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def test_golden_covers_every_sample_and_holds_tables() -> None:
    golden = _golden()
    assert sorted(golden) == [_key(p) for p in SAMPLES]
    with_tables = {k for k, v in golden.items() if v}
    assert {"009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"} < with_tables
    assert sum(map(len, golden.values())) >= 11


@pytest.mark.parametrize("path", SAMPLES, ids=[_key(p) for p in SAMPLES])
def test_sample_tables_are_unchanged(path: Path) -> None:
    found, expected = _tables(path), _golden()[_key(path)]
    # Boxes within 0.01 pt: PDFium's float32 coordinates against pdfminer's doubles.
    assert [t["box"] for t in found] == [pytest.approx(t["box"], abs=0.011) for t in expected]
    assert [{**t, "box": None} for t in found] == [{**t, "box": None} for t in expected]


if __name__ == "__main__":
    out = {_key(p): _tables(p) for p in SAMPLES}
    GOLDEN.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {GOLDEN}: {sum(map(len, out.values()))} tables\n")
