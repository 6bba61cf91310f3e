"""The whole-document and per-page methods: one, presentation, picture."""

from __future__ import annotations

from ragserve.ingest.chunkers import one, picture, presentation
from ragserve.ingest.types import Block, BlockKind, Box
from unit.chunkers.support import contents, count_tokens, doc, heading, options, table, text

SLIDES = [
    heading("Welcome", page=1),
    text("first slide text", page=1),
    heading("Numbers", page=2),
    table(("k", "v"), ("a", "1"), page=2),
    Block(BlockKind.IMAGE, "", page=2),
    text("back to one", page=1),
    Block(BlockKind.IMAGE, "chart label", page=3, box=Box(1, 2, 3, 4)),
]


def test_one_is_a_single_chunk_of_all_text() -> None:
    [found] = one.chunk(doc(*SLIDES), options(2), count_tokens)
    assert found.content == (
        "Welcome\nfirst slide text\nNumbers\nk: a; v: 1\nback to one\nchart label"
    )
    assert (found.page, found.positions) == (1, [[3, 1, 3, 2, 4]])


def test_one_renders_tables_as_html_when_asked() -> None:
    [found] = one.chunk(doc(table(("k",), ("a",))), options(html4excel=True), count_tokens)
    assert found.content == "<table><tr><th>k</th></tr><tr><td>a</td></tr></table>"


def test_presentation_is_one_chunk_per_page_whatever_the_budget() -> None:
    found = presentation.chunk(doc(*SLIDES), options(1), count_tokens)
    assert [(c.page, c.content) for c in found] == [
        (1, "Welcome\nfirst slide text\nback to one"),
        (2, "Numbers\nk: a; v: 1"),
        (3, "chart label"),
    ]
    assert all(c.fields == {} for c in found)


def test_presentation_of_a_pageless_document_is_one_chunk() -> None:
    assert contents(presentation.chunk(doc(text("a"), text("b")), options(), count_tokens)) == [
        "a\nb"
    ]


def test_picture_puts_the_ocr_text_of_each_page_in_one_chunk() -> None:
    blocks = [
        Block(BlockKind.IMAGE, "STOP", page=1, box=Box(0, 0, 10, 10)),
        text("sign", page=1),
        Block(BlockKind.IMAGE, "", page=2),
        Block(BlockKind.IMAGE, "EXIT", page=3),
    ]
    found = picture.chunk(doc(*blocks), options(1), count_tokens)
    assert [(c.page, c.content, c.fields, c.positions) for c in found] == [
        (1, "STOP\nsign", {"ocr": True}, [[1, 0, 10, 0, 10]]),
        (3, "EXIT", {"ocr": True}, []),
    ]
