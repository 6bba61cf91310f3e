from __future__ import annotations

import pytest

from ragserve.ingest.chunkers import ChunkingOptions, naive
from ragserve.ingest.types import Block, BlockKind, Box
from unit.chunkers.support import (
    contents,
    count_tokens,
    doc,
    heading,
    options,
    table,
    text,
    words,
)


def run(*blocks: Block, budget: int = 512, delimiter: str = "\n", html: bool = False) -> list[str]:
    chosen = options(budget, delimiter=delimiter, html4excel=html)
    return contents(naive.chunk(doc(*blocks), chosen, count_tokens))


def test_lines_are_merged_up_to_the_budget() -> None:
    lines = text("a1 a2\nb1 b2\nc1 c2\nd1 d2\ne1 e2")
    assert run(lines, budget=5) == ["a1 a2\nb1 b2", "c1 c2\nd1 d2", "e1 e2"]
    assert run(lines, budget=4) == ["a1 a2\nb1 b2", "c1 c2\nd1 d2", "e1 e2"]
    assert run(lines, budget=6) == ["a1 a2\nb1 b2\nc1 c2", "d1 d2\ne1 e2"]
    assert run(lines) == ["a1 a2\nb1 b2\nc1 c2\nd1 d2\ne1 e2"]


def test_blocks_join_with_a_newline_and_pieces_of_one_block_as_written() -> None:
    assert run(text("x y"), text("z")) == ["x y\nz"]
    assert run(text("A b. C d. E f."), budget=4, delimiter=".") == ["A b. C d.", "E f."]


def _long_document() -> list[Block]:
    blocks: list[Block] = []
    for n in range(40):
        if n % 7 == 0:
            blocks.append(heading(f"Heading number {n}", level=1 + n % 3))
        sentence = " ".join(f"w{n}x{i}" for i in range(n % 11 + 1))
        lines = "\n".join(f"{sentence}. Second {n} part" for _ in range(n % 4 + 1))
        blocks.append(text(lines, page=1 + n // 10))
    return blocks


@pytest.mark.parametrize("budget", [2, 3, 5, 8, 13, 40, 200])
def test_no_chunk_is_over_budget_and_no_word_is_lost(budget: int) -> None:
    blocks = _long_document()
    found = run(*blocks, budget=budget)
    assert all(count_tokens(chunk) <= budget for chunk in found)
    assert [w for chunk in found for w in words(chunk)] == [
        w for b in blocks for w in words(b.text)
    ]
    if budget >= 40:
        assert len(found) < len(blocks)  # merging happened


def test_a_heading_starts_the_next_chunk_instead_of_ending_one() -> None:
    blocks = [text("a b c"), heading("H"), text("d e f")]
    assert run(*blocks, budget=5) == ["a b c", "H\nd e f"]
    assert run(*blocks, budget=7) == ["a b c\nH\nd e f"]


@pytest.mark.parametrize("budget", [4, 6, 9])  # headings are 3 tokens
def test_no_chunk_ends_with_a_heading(budget: int) -> None:
    blocks = _long_document()
    titles = {b.text for b in blocks if b.kind is BlockKind.HEADING}
    for chunk in run(*blocks, budget=budget):
        assert chunk.splitlines()[-1] not in titles


def test_a_heading_is_kept_with_a_long_paragraph_that_follows() -> None:
    body = text("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10")
    assert run(heading("Title"), body, budget=4) == ["Title\nw1 w2 w3", "w4 w5 w6 w7", "w8 w9 w10"]


def test_headings_alone_over_budget_become_chunks_of_headings() -> None:
    blocks = [heading("H1 x"), heading("H2 x"), heading("H3 x"), text("body")]
    assert run(*blocks, budget=3) == ["H1 x", "H2 x", "H3 x\nbody"]


def test_an_over_long_line_is_cut_at_sentence_ends() -> None:
    line = text("One two three. Four five. Six seven eight nine. Ten.")
    assert run(line, budget=5) == ["One two three. Four five.", "Six seven eight nine. Ten."]


def test_an_over_long_sentence_is_cut_between_words() -> None:
    line = text("short.\nalpha beta gamma delta epsilon zeta eta theta")
    assert run(line, budget=3) == ["short.", "alpha beta gamma", "delta epsilon zeta", "eta theta"]


def test_backtick_delimiters_split_on_the_multi_character_string() -> None:
    body = text("a b ## c d ## e f")
    assert run(body, budget=3, delimiter="`##`") == ["a b ##", "c d ##", "e f"]
    # the same string as single characters: each '#' is a delimiter, so "#" is a piece
    assert run(body, budget=3, delimiter="#") == ["a b #", "#", "c d #", "# e f"]
    assert run(body, budget=100, delimiter="`##`") == ["a b ## c d ## e f"]


def test_the_escaped_newline_delimiter_splits_lines_only() -> None:
    chosen = ChunkingOptions.from_parser_config({"chunk_token_num": 2, "delimiter": "\\n"}, "")
    found = naive.chunk(doc(text("banana split\nbanana bread")), chosen, count_tokens)
    assert contents(found) == ["banana split", "banana bread"]


def test_chinese_punctuation_delimiters() -> None:
    body = text("一二三。四五六。七八九。")
    assert run(body, budget=8, delimiter="。") == ["一二三。四五六。", "七八九。"]
    assert run(body, budget=7, delimiter="。") == ["一二三。", "四五六。", "七八九。"]
    assert run(body, budget=8, delimiter="\n") == ["一二三。四五六。", "七八九。"]


def test_every_text_kind_is_chunked_and_empty_images_are_skipped() -> None:
    blocks = [
        Block(BlockKind.LIST_ITEM, "- item"),
        Block(BlockKind.CODE, "x = 1"),
        Block(BlockKind.IMAGE, "ocr text"),
        Block(BlockKind.IMAGE, ""),
    ]
    assert run(*blocks) == ["- item\nx = 1\nocr text"]


PRICES = table(("Name", "Price"), ("Tea", "2 EUR"), ("Coffee", "3 EUR"), ("Cake", "4 EUR"))


def test_a_table_is_a_chunk_of_its_own_with_col_value_rows() -> None:
    found = run(text("intro words"), PRICES, text("outro"))
    rows = "Name: Tea; Price: 2 EUR\nName: Coffee; Price: 3 EUR\nName: Cake; Price: 4 EUR"
    assert found == ["intro words", rows, "outro"]


def test_a_table_is_split_between_rows_when_over_budget() -> None:
    found = run(PRICES, budget=9)  # each row is 5 tokens
    assert found == [
        "Name: Tea; Price: 2 EUR",
        "Name: Coffee; Price: 3 EUR",
        "Name: Cake; Price: 4 EUR",
    ]
    assert run(PRICES, budget=10) == [
        "Name: Tea; Price: 2 EUR\nName: Coffee; Price: 3 EUR",
        "Name: Cake; Price: 4 EUR",
    ]


def test_html_tables_repeat_the_header_in_each_part() -> None:
    head = "<tr><th>Name</th><th>Price</th></tr>"
    tea = "<tr><td>Tea</td><td>2 EUR</td></tr>"
    coffee = "<tr><td>Coffee</td><td>3 EUR</td></tr>"
    cake = "<tr><td>Cake</td><td>4 EUR</td></tr>"
    assert run(PRICES, html=True) == [f"<table>{head}{tea}{coffee}{cake}</table>"]
    # header 1 token, <table></table> 1, each row 2: two rows per part within 6
    assert run(PRICES, html=True, budget=6) == [
        f"<table>{head}{tea}{coffee}</table>",
        f"<table>{head}{cake}</table>",
    ]


def test_the_heading_above_a_table_goes_with_it() -> None:
    found = run(text("before"), heading("Prices"), PRICES, budget=12)
    assert found == [
        "before",
        "Prices\nName: Tea; Price: 2 EUR\nName: Coffee; Price: 3 EUR",
        "Name: Cake; Price: 4 EUR",
    ]


def test_tables_without_header_or_rows() -> None:
    bare = table(("Tea", "2"), ("Cake", ""), ("", ""), header=False)
    assert run(bare) == ["Tea; 2\nCake"]
    empty = Block(BlockKind.TABLE, "a plain table text")
    assert run(empty) == ["a plain table text"]


def test_a_table_row_over_budget_is_cut_as_text() -> None:
    wide = table(("A", "B"), ("one two three", "four five six"))
    assert run(wide, budget=4) == ["A: one two three;", "B: four five six"]
    assert run(wide, budget=3) == ["A: one two", "three;", "B: four five", "six"]


def test_positions_and_page_come_from_the_blocks() -> None:
    first = Block(BlockKind.TEXT, "a b", page=2, box=Box(1, 2, 3, 4))
    second = Block(BlockKind.TEXT, "c d\ne f", page=3, box=Box(5, 6, 7, 8))
    found = naive.chunk(doc(first, second, text("g")), options(4), count_tokens)
    assert [(c.content, c.positions, c.page) for c in found] == [
        ("a b\nc d", [[2, 1, 3, 2, 4], [3, 5, 7, 6, 8]], 2),
        ("e f\ng", [[3, 5, 7, 6, 8]], 3),
    ]
    assert all(c.fields == {} and c.questions == [] == c.important_keywords for c in found)
