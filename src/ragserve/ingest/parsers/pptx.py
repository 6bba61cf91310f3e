"""PowerPoint presentations (.pptx) through python-pptx: one page per slide.

A slide's title is a level-1 HEADING (and the ``section`` of the slide's blocks); its other
text frames are TEXT blocks and its tables TABLE blocks, top to bottom then left to right.
Speaker notes are left out.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.shapes.autoshape import Shape
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from ragserve.ingest.parsers.text import check_office_container, damaged_file, table_block
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

OLD_PPT = "Old .ppt files are not supported; save it as .pptx."


def parse_pptx(data: bytes) -> ParsedDocument:
    """Blocks slide by slide; ``page`` is the 1-based slide number."""
    check_office_container(data, OLD_PPT)
    with damaged_file("The file is not a readable .pptx presentation."):
        presentation = pptx.Presentation(io.BytesIO(data))
        blocks: list[Block] = []
        slide_count = 0
        for number, slide in enumerate(presentation.slides, start=1):
            slide_count = number
            blocks.extend(_slide_blocks(slide, number))
        properties = presentation.core_properties
        metadata = {"author": properties.author} if properties.author else {}
        return ParsedDocument(
            blocks=blocks,
            page_count=slide_count,
            title=(properties.title or "").strip(),
            metadata=metadata,
        )


def _slide_blocks(slide: Slide, page: int) -> list[Block]:
    title_shape = slide.shapes.title
    title = _frame_text(title_shape) if title_shape is not None else ""
    blocks: list[Block] = []
    if title:
        blocks.append(Block(kind=BlockKind.HEADING, text=title, page=page, level=1, section=title))
    for shape in _in_reading_order(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        block = _shape_block(shape, page=page, section=title)
        if block is not None:
            blocks.append(block)
    return blocks


def _in_reading_order(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Shapes top to bottom, then left to right; groups are opened in place."""

    def position(shape: BaseShape) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=position):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP and isinstance(shape, GroupShape):
            yield from _in_reading_order(shape.shapes)
        else:
            yield shape


def _shape_block(shape: BaseShape, *, page: int, section: str) -> Block | None:
    if isinstance(shape, GraphicFrame) and shape.has_table:
        rows = [
            ["" if cell.is_spanned else cell.text for cell in row.cells] for row in shape.table.rows
        ]
        return table_block(rows, page=page, section=section)
    if isinstance(shape, Shape):
        text = _frame_text(shape)
        if text:
            return Block(kind=BlockKind.TEXT, text=text, page=page, section=section)
    return None


def _frame_text(shape: Shape) -> str:
    if not shape.has_text_frame:
        return ""
    lines = (paragraph.text.strip() for paragraph in shape.text_frame.paragraphs)
    return "\n".join(line for line in lines if line)
