"""The row-based methods: table and tag."""

from __future__ import annotations

from ragserve.ingest.chunkers import table as table_method
from ragserve.ingest.chunkers import tag
from ragserve.ingest.chunkers.tag import parse_tags
from ragserve.ingest.types import Block, BlockKind, Box
from unit.chunkers.support import contents, count_tokens, doc, heading, options, table, text


def test_one_chunk_per_row_with_the_header_as_field_names() -> None:
    sheet = table(
        ("Name", " Age ", "City"),
        ("Ann", "31", "Oslo"),
        ("", "", ""),
        ("Bob", "", "Rome"),
        ("Cy", "7"),
    )
    found = table_method.chunk(doc(sheet), options(), count_tokens)
    assert [(c.content, c.fields) for c in found] == [
        ("Name: Ann; Age: 31; City: Oslo", {"Name": "Ann", "Age": "31", "City": "Oslo"}),
        ("Name: Bob; City: Rome", {"Name": "Bob", "Age": "", "City": "Rome"}),
        ("Name: Cy; Age: 7", {"Name": "Cy", "Age": "7", "City": ""}),
    ]


def test_missing_and_repeated_column_names_are_made_up() -> None:
    sheet = table(("id", "", "id"), ("1", "x", "2", "extra"))
    [found] = table_method.chunk(doc(sheet), options(), count_tokens)
    assert found.fields == {"id": "1", "Column 2": "x", "id (2)": "2", "Column 4": "extra"}
    bare = table(("a", "b"), header=False)
    [headerless] = table_method.chunk(doc(bare), options(), count_tokens)
    assert (headerless.content, headerless.fields) == (
        "Column 1: a; Column 2: b",
        {"Column 1": "a", "Column 2": "b"},
    )


def test_text_around_tables_is_chunked_as_naive() -> None:
    blocks = [
        text("one two three"),
        text("four"),
        heading("People"),
        table(("Name",), ("Ann",)),
        text("after"),
    ]
    assert contents(table_method.chunk(doc(*blocks), options(3), count_tokens)) == [
        "one two three",
        "four",
        "People\nName: Ann",
        "after",
    ]


def test_row_chunks_carry_the_table_position() -> None:
    sheet = Block(
        BlockKind.TABLE, "", page=2, box=Box(0, 1, 2, 3), rows=(("a",), ("b",)), has_header=True
    )
    [found] = table_method.chunk(doc(sheet), options(), count_tokens)
    assert (found.positions, found.page) == ([[2, 0, 2, 1, 3]], 2)


def test_tags_are_split_on_commas_without_blanks_or_repeats() -> None:
    assert parse_tags("a, b ,,c，d、a") == ["a", "b", "c", "d"]
    assert parse_tags(" , ") == []


def test_tag_rows_from_tables_and_tab_lines() -> None:
    blocks = [
        table(("Content", "Tags"), ("Tea is hot", "drink, hot"), ("No tags", ""), ("", "x")),
        text("Cake\tfood,sweet\nnot a pair\nx\ty\tz"),
    ]
    found = tag.chunk(doc(*blocks), options(), count_tokens)
    assert [(c.content, c.fields, c.important_keywords) for c in found] == [
        ("Tea is hot", {"tags": ["drink", "hot"]}, ["drink", "hot"]),
        ("Cake", {"tags": ["food", "sweet"]}, ["food", "sweet"]),
    ]
