from __future__ import annotations

from ragserve.ingest.chunkers import qa
from ragserve.ingest.types import Block, BlockKind, Box
from unit.chunkers.support import contents, count_tokens, doc, heading, options, table, text


def run(*blocks: Block) -> list[tuple[str, dict[str, object], list[str]]]:
    found = qa.chunk(doc(*blocks), options(), count_tokens)
    return [(chunk.content, chunk.fields, chunk.questions) for chunk in found]


def test_pairs_come_from_table_rows_and_the_header_row_is_skipped() -> None:
    faq = table(("Question", "Answer"), ("What is it?", "A tool."), ("Cost?", ""), ("", "x"))
    assert run(faq) == [
        (
            "Question: What is it?\tAnswer: A tool.",
            {"question": "What is it?", "answer": "A tool."},
            ["What is it?"],
        )
    ]


def test_a_table_without_header_uses_every_row() -> None:
    faq = table(("Why?", "Because."), ("How?", "Like this.", "extra"), ("lonely",), header=False)
    assert contents(qa.chunk(doc(faq), options(), count_tokens)) == [
        "Question: Why?\tAnswer: Because.",
        "Question: How?\tAnswer: Like this.",
    ]


def test_q_and_a_lines_with_multi_line_answers() -> None:
    body = text(
        "Intro line without a marker.\n"
        "Q: How do I start?\n"
        "A: Run the command.\n"
        "Then wait.\n"
        "Question: Is it free?\n"
        "Answer: Yes.\n"
        "Q1: Unanswered?\n"
    )
    assert run(body) == [
        (
            "Question: How do I start?\tAnswer: Run the command.\nThen wait.",
            {"question": "How do I start?", "answer": "Run the command.\nThen wait."},
            ["How do I start?"],
        ),
        (
            "Question: Is it free?\tAnswer: Yes.",
            {"question": "Is it free?", "answer": "Yes."},
            ["Is it free?"],
        ),
    ]


def test_a_question_may_run_over_several_lines() -> None:
    body = text("Q: How do I\nstart the app?\nA: Like this.")
    [found] = qa.chunk(doc(body), options(), count_tokens)
    assert found.fields == {"question": "How do I start the app?", "answer": "Like this."}


def test_chinese_markers_give_chinese_labels() -> None:
    body = text("问：什么是人工智能？\n答：一种技术。\n问题：怎么用？\n回答：直接用。")
    assert contents(qa.chunk(doc(body), options(), count_tokens)) == [
        "问题：什么是人工智能？\t回答：一种技术。",
        "问题：怎么用？\t回答：直接用。",
    ]


def test_a_heading_is_the_question_and_the_text_below_the_answer() -> None:
    blocks = [
        heading("FAQ", 1),
        heading("How to install?", 2),
        text("Download it."),
        Block(BlockKind.LIST_ITEM, "- then run it"),
        heading("Empty question?", 2),
        heading("How to remove?", 2),
        text("Delete it."),
    ]
    assert contents(qa.chunk(doc(*blocks), options(), count_tokens)) == [
        "Question: How to install?\tAnswer: Download it.\n- then run it",
        "Question: How to remove?\tAnswer: Delete it.",
    ]


def test_tab_separated_lines_are_pairs() -> None:
    body = text("What?\tThat.\nno tab here\nA\tB\tC")
    assert contents(qa.chunk(doc(body), options(), count_tokens)) == [
        "Question: What?\tAnswer: That."
    ]


def test_positions_and_page_come_from_the_pair_blocks() -> None:
    question = Block(BlockKind.TEXT, "Q: Where?", page=4, box=Box(1, 2, 3, 4))
    answer = Block(BlockKind.TEXT, "A: Here.", page=5, box=Box(5, 6, 7, 8))
    [found] = qa.chunk(doc(question, answer), options(), count_tokens)
    assert (found.positions, found.page) == ([[4, 1, 3, 2, 4], [5, 5, 7, 6, 8]], 4)


def test_text_without_pairs_gives_no_chunks() -> None:
    assert qa.chunk(doc(text("Just prose.\nMore prose.")), options(), count_tokens) == []
