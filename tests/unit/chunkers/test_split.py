from __future__ import annotations

import pytest

from ragserve.ingest.chunkers.split import fit, is_mostly_cjk, sentences, split_on_delimiters
from unit.chunkers.support import count_tokens


def test_text_is_cut_after_each_delimiter_which_stays_on_the_piece() -> None:
    assert split_on_delimiters("a\nb\n\n\nc", ("\n",)) == ["a\n", "b\n", "c"]
    assert split_on_delimiters("x ## y ## ", ("##",)) == ["x ##", " y ##"]
    assert split_on_delimiters("一。二！三", ("。", "！")) == ["一。", "二！", "三"]
    assert split_on_delimiters("a##b#c", ("##", "#")) == ["a##", "b#", "c"]


def test_without_delimiters_the_text_is_one_piece() -> None:
    assert split_on_delimiters("a\nb", ()) == ["a\nb"]
    assert split_on_delimiters("  ", ()) == []


def test_sentences_round_trip() -> None:
    value = "First one. Second one! Third? 第一句。第二句；tail e.g.x"
    found = sentences(value)
    assert "".join(found) == value
    assert found == ["First one. ", "Second one! ", "Third? ", "第一句。", "第二句；", "tail e.g.x"]


def test_fit_cuts_at_sentence_ends_when_it_can() -> None:
    value = "one two three. four five. six seven eight nine."
    assert fit(value, 5, 5, count_tokens) == ["one two three. four five.", "six seven eight nine."]


def test_fit_fills_a_smaller_first_part() -> None:
    value = "one two. three four. five six."
    assert fit(value, 2, 4, count_tokens) == ["one two.", "three four. five six."]


def test_fit_cuts_a_long_sentence_between_words_then_characters() -> None:
    assert fit("a b c d e f g", 3, 3, count_tokens) == ["a b c", "d e f", "g"]
    assert fit("一二三四五", 2, 2, count_tokens) == ["一二", "三四", "五"]


def test_fit_gives_an_empty_first_part_when_nothing_fits_there() -> None:
    assert fit("abc def", 0, 5, count_tokens) == ["", "abc def"]


def test_fit_cuts_a_word_longer_than_the_budget_into_characters() -> None:
    def per_char(value: str) -> int:
        return len(value.strip())

    assert fit("abcdefg", 3, 3, per_char) == ["abc", "def", "g"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("人工智能是什么？", True), ("What is 人工智能?", False), ("", False), ("abc", False)],
)
def test_mostly_cjk(value: str, expected: bool) -> None:
    assert is_mostly_cjk(value) is expected
