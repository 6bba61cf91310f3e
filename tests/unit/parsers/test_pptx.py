from __future__ import annotations

import io

import pptx
import pytest
from pptx.util import Inches

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.pptx import parse_pptx
from ragserve.ingest.types import BlockKind, ParseError


def _pptx_bytes() -> bytes:
    presentation = pptx.Presentation()
    presentation.core_properties.title = "Roadmap"
    first = presentation.slides.add_slide(presentation.slide_layouts[1])  # title and content
    first.shapes.title.text = "Goals"
    body = first.placeholders[1].text_frame
    body.text = "Ship the parser"
    body.add_paragraph().text = "Write the tests"
    # Added last but placed above the body: reading order is by position.
    first.shapes.add_textbox(
        Inches(0.5), Inches(0.1), Inches(3), Inches(0.4)
    ).text_frame.text = "Draft"
    first.notes_slide.notes_text_frame.text = "Speaker notes stay out"

    second = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    second.shapes.title.text = "Numbers"
    table = second.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for row, values in enumerate([["Team", "Q1", "Q2"], ["Red", "1", "2"], ["Blue", "3", "4"]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(2, 1).merge(table.cell(2, 2))
    group = second.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(5), Inches(3), Inches(1)).text_frame.text = "Grouped"

    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank: no blocks
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def test_slides_are_pages_with_title_headings() -> None:
    parsed = parse_pptx(_pptx_bytes())
    assert parsed.page_count == 3
    assert parsed.title == "Roadmap"
    summary = [(block.page, block.kind, block.text, block.level) for block in parsed.blocks]
    assert summary[:3] == [
        (1, BlockKind.HEADING, "Goals", 1),
        (1, BlockKind.TEXT, "Draft", 0),
        (1, BlockKind.TEXT, "Ship the parser\nWrite the tests", 0),
    ]
    assert [(page, kind) for page, kind, _, _ in summary[3:]] == [
        (2, BlockKind.HEADING),
        (2, BlockKind.TABLE),
        (2, BlockKind.TEXT),
    ]
    assert summary[5][2] == "Grouped"


def test_section_is_slide_title() -> None:
    parsed = parse_pptx(_pptx_bytes())
    assert [block.section for block in parsed.blocks] == ["Goals"] * 3 + ["Numbers"] * 3


def test_table_with_merged_cell_once() -> None:
    table = next(block for block in parse_pptx(_pptx_bytes()).blocks if block.kind == "table")
    # python-pptx moves the merged cell's text into the merge origin.
    assert table.rows == (("Team", "Q1", "Q2"), ("Red", "1", "2"), ("Blue", "3\n4", ""))
    assert table.has_header
    assert table.text.splitlines()[-1] == "Blue | 3 4 | "


def test_notes_are_left_out() -> None:
    parsed = parse_file(_pptx_bytes(), suffix="pptx")
    assert all("Speaker notes" not in block.text for block in parsed.blocks)


@pytest.mark.parametrize(
    "data",
    [b"slides? no.", b"PK\x05\x06" + b"\x00" * 18, _pptx_bytes()[:3000]],
    ids=["garbage", "empty-zip", "truncated"],
)
def test_damaged_files_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"\.pptx"):
        parse_pptx(data)
    with pytest.raises(ParseError):
        parse_file(data, suffix="pptx")


@pytest.mark.parametrize("through_dispatcher", [True, False])
def test_old_ppt_is_refused(through_dispatcher: bool) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    with pytest.raises(ParseError) as raised:
        if through_dispatcher:
            parse_file(ole, suffix="ppt")
        else:
            parse_pptx(ole)  # an old .ppt renamed to .pptx
    assert str(raised.value) == "Old .ppt files are not supported; save it as .pptx."
