"""Which parses are split into page ranges, into which ranges, and how a range's chunks are kept
until the last task of the parse puts them in place."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers.pdf import text_pdf
from ragserve.ingest import splitting, staging


@pytest.mark.parametrize(
    ("pages", "selected", "size", "ranges"),
    [
        (30, None, 12, [(1, 12), (13, 24), (25, 30)]),
        (24, None, 12, [(1, 12), (13, 24)]),
        (12, None, 12, None),  # one task is enough
        (5, None, 1, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]),
        (
            100,
            [(1, 5), (3, 8), (9, 10), (50, 55)],
            4,
            [(1, 4), (5, 8), (9, 10), (50, 53), (54, 55)],
        ),
        (100, [(90, 200), (1, 3)], 5, [(1, 3), (90, 94), (95, 99), (100, 100)]),
        (100, [(1, 3), (50, 52)], 6, None),  # six pages in all: one task
        (10, [(20, 30)], 2, None),  # nothing selected
    ],
)
def test_plan(
    pages: int,
    selected: list[tuple[int, int]] | None,
    size: int,
    ranges: list[tuple[int, int]] | None,
) -> None:
    assert splitting.plan(pages, selected, size) == ranges


@pytest.mark.parametrize(
    ("config", "size"),
    [({}, 12), ({"task_page_size": 3}, 3), ({"task_page_size": 0}, 12),
     ({"task_page_size": "3"}, 12), ({"task_page_size": True}, 12)],
)  # fmt: skip
def test_the_documents_task_page_size_wins_when_valid(config: dict[str, Any], size: int) -> None:
    assert splitting.task_page_size(config, 12) == size


def test_selected_pages_keeps_valid_ranges() -> None:
    assert splitting.selected_pages({"pages": [[1, 3], [5, 4], "x", [0, 2], [7, 9]]}) == [
        (1, 3),
        (7, 9),
    ]
    assert splitting.selected_pages({"pages": []}) is None
    assert splitting.selected_pages({}) is None


def test_only_pdfs_of_page_local_methods_are_split() -> None:
    for method in ("naive", "knowledge_graph", "presentation", "picture", "unknown"):
        assert splitting.splittable("pdf", method), method
    for method in ("one", "qa", "table", "tag", "resume", "email", "manual", "paper", "laws"):
        assert not splitting.splittable("pdf", method), method
    assert not splitting.splittable("docx", "naive")


def test_pdf_page_count() -> None:
    assert splitting.pdf_page_count(text_pdf([["a"], ["b"], ["c"]])) == 3
    assert splitting.pdf_page_count(b"%PDF-1.4 not really") is None


def test_a_staged_part_round_trips() -> None:
    chunk = staging.StagedChunk(
        content="Lift grows — «with» the angle.",
        content_tokens="lift grow angl",
        keyword_tokens="wing",
        token_count=9,
        important_keywords=["wing"],
        questions=["What grows?"],
        positions=[[3, 1, 2, 3, 4]],
        fields={"row": {"a": 1}},
    )
    vectors = np.random.default_rng(0).standard_normal((2, 384)).astype(np.float32)
    part = staging.decode(staging.encode(staging.Part([chunk, chunk], vectors)))
    assert part.chunks == [chunk, chunk]
    assert part.vectors.dtype == np.float32 and np.array_equal(part.vectors, vectors)
    empty = staging.decode(staging.encode(staging.Part([], np.zeros((0, 1), np.float32))))
    assert (empty.chunks, empty.vectors.shape, empty.vector(0)) == ([], (0, 1), None)
