from __future__ import annotations

from typing import Any

import pytest

from ragserve.domain import ChunkMethod
from ragserve.ingest.chunkers import (
    CHUNKERS,
    ChunkingOptions,
    book,
    chunker_for,
    email,
    laws,
    manual,
    naive,
    one,
    paper,
    parse_delimiters,
    picture,
    presentation,
    qa,
    resume,
    table,
    tag,
)
from ragserve.ingest.chunkers.base import kept_blocks, position_of, positions_of
from ragserve.ingest.types import Block, BlockKind, Box, ParsedDocument
from ragserve.services.parser_config import default_parser_config
from unit.chunkers.support import count_tokens, doc, every_kind, options, text


def test_options_from_an_empty_config_are_the_defaults() -> None:
    assert ChunkingOptions.from_parser_config({}, "a.pdf") == ChunkingOptions(title="a.pdf")
    assert ChunkingOptions() == ChunkingOptions(512, "\n", False, None, "")


def test_options_from_the_naive_default_config() -> None:
    config = default_parser_config("naive")
    found = ChunkingOptions.from_parser_config(config, "doc.txt")
    assert (found.chunk_token_num, found.delimiter, found.html4excel) == (512, "\n", False)
    assert found.title == "doc.txt"


def test_the_two_character_escape_means_newline() -> None:
    found = ChunkingOptions.from_parser_config({"delimiter": "\\n"}, "")
    assert found.delimiter == "\n"
    assert found.delimiters == ("\n",)
    assert parse_delimiters("\\n") == ("\n",)
    assert parse_delimiters("\\t`\\n\\n`") == ("\n\n", "\t")


@pytest.mark.parametrize(
    ("delimiter", "expected"),
    [
        ("\n", ("\n",)),
        ("\n!?。；！？", ("\n", "!", "?", "。", "；", "！", "？")),
        ("`##`\n", ("##", "\n")),
        ("`##`", ("##",)),
        ("a`---`b`##`", ("---", "##", "a", "b")),
        ("..", (".",)),
        ("``", ("`",)),
    ],
)
def test_delimiters_are_characters_plus_backticked_strings(
    delimiter: str, expected: tuple[str, ...]
) -> None:
    assert parse_delimiters(delimiter) == expected


@pytest.mark.parametrize("value", [None, "", "abc", 0, -5, True, [1]])
def test_a_bad_chunk_token_num_falls_back_to_512(value: Any) -> None:
    assert ChunkingOptions.from_parser_config({"chunk_token_num": value}, "").chunk_token_num == 512


def test_chunk_token_num_and_html4excel_are_read() -> None:
    config = {"chunk_token_num": "128", "html4excel": True, "delimiter": ""}
    found = ChunkingOptions.from_parser_config(config, "")
    assert (found.chunk_token_num, found.html4excel, found.delimiter) == (128, True, "\n")
    assert ChunkingOptions.from_parser_config({"html4excel": "true"}, "").html4excel is True
    assert ChunkingOptions.from_parser_config({"html4excel": "no"}, "").html4excel is False


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ([[1, 3], [5, 5]], [(1, 3), (5, 5)]),
        ([[1, 1000000]], [(1, 1000000)]),
        ([[1, 2], [3], "x", [True, 2]], [(1, 2)]),
        ([], None),
        (None, None),
        ("1-3", None),
    ],
)
def test_page_ranges_are_read_tolerantly(pages: Any, expected: Any) -> None:
    assert ChunkingOptions.from_parser_config({"pages": pages}, "").pages == expected


def test_blocks_outside_the_page_ranges_are_dropped_but_pageless_blocks_kept() -> None:
    blocks = [text("p0"), text("p1", 1), text("p2", 2), text("p3", 3), text("p9", 9)]
    kept = kept_blocks(doc(*blocks), options(pages=[(1, 1), (3, 4)]))
    assert [b.text for b in kept] == ["p0", "p1", "p3"]
    assert kept_blocks(doc(*blocks), options()) == blocks


def test_positions_are_five_ints_in_ragflow_order_without_repeats() -> None:
    block = Block(BlockKind.TEXT, "x", page=3, box=Box(x0=1.6, top=2.4, x1=10.5, bottom=20.49))
    assert position_of(block) == [3, 2, 10, 2, 20]
    assert position_of(text("no box", 3)) is None
    other = Block(BlockKind.TEXT, "y", page=4, box=Box(0, 0, 1, 1))
    assert positions_of([block, text("z"), other, block]) == [[3, 2, 10, 2, 20], [4, 0, 1, 0, 1]]


def test_every_chunk_method_has_its_chunker() -> None:
    expected = {
        "naive": naive.chunk,
        "qa": qa.chunk,
        "table": table.chunk,
        "one": one.chunk,
        "manual": manual.chunk,
        "paper": paper.chunk,
        "book": book.chunk,
        "laws": laws.chunk,
        "presentation": presentation.chunk,
        "picture": picture.chunk,
        "email": email.chunk,
        "resume": resume.chunk,
        "tag": tag.chunk,
        "knowledge_graph": naive.chunk,
        "audio": naive.chunk,
    }
    assert {method.value for method in ChunkMethod} == set(expected)
    for method, chunker in expected.items():
        assert chunker_for(method) is chunker
    assert chunker_for("no-such-method") is naive.chunk


@pytest.mark.parametrize("method", sorted(CHUNKERS))
def test_an_empty_document_gives_no_chunks(method: str) -> None:
    chunker = chunker_for(method)
    assert chunker(ParsedDocument(), options(), count_tokens) == []
    blank = doc(text("   "), Block(BlockKind.IMAGE, "", page=1))
    assert chunker(blank, options(), count_tokens) == []


@pytest.mark.parametrize("method", sorted(CHUNKERS))
def test_chunking_is_deterministic(method: str) -> None:
    def run() -> list[Any]:
        document = doc(*every_kind(1), *every_kind(2))
        return chunker_for(method)(document, options(budget=16), count_tokens)

    first = run()
    assert first
    assert run() == first


@pytest.mark.parametrize("method", sorted(CHUNKERS))
def test_every_method_drops_pages_outside_the_range(method: str) -> None:
    document = doc(*every_kind(1), *every_kind(2), *every_kind(3))
    drafts = chunker_for(method)(document, options(budget=16, pages=[(2, 2)]), count_tokens)
    assert drafts
    everything = "\n".join(chunk.content for chunk in drafts)
    assert "p2" in everything
    assert "p1" not in everything and "p3" not in everything
    assert {chunk.page for chunk in drafts} == {2}
    assert all(position[0] == 2 for chunk in drafts for position in chunk.positions)


@pytest.mark.parametrize("method", sorted(CHUNKERS))
def test_positions_are_lists_of_five_ints(method: str) -> None:
    drafts = chunker_for(method)(doc(*every_kind(1)), options(budget=16), count_tokens)
    positions = [position for chunk in drafts for position in chunk.positions]
    assert positions
    assert all(position == [1, 10, 300, 21, 40] for position in positions)
    assert all(type(n) is int for position in positions for n in position)
