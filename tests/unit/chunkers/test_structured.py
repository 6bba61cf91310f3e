from __future__ import annotations

from ragserve.ingest.chunkers import book, laws, manual, paper
from ragserve.ingest.types import Block, BlockKind, Box
from unit.chunkers.support import contents, count_tokens, doc, heading, options, table, text

GUIDE = [
    text("Read me first."),
    heading("Guide", 1),
    text("Welcome text."),
    heading("Install", 2),
    text("Run the installer and follow the steps."),
    heading("Linux", 3),
    text("Use apt to install the package."),
    heading("Usage", 2),
    text("Start it."),
]


def run_manual(*blocks: Block, budget: int = 64) -> list[str]:
    return contents(manual.chunk(doc(*blocks), options(budget), count_tokens))


def test_each_chunk_starts_with_its_heading_path() -> None:
    assert run_manual(*GUIDE) == [
        "Read me first.\n\nGuide\nWelcome text.",
        "Guide > Install\nRun the installer and follow the steps.",
        "Guide > Install > Linux\nUse apt to install the package.",
        "Guide > Usage\nStart it.",
    ]


def test_sections_are_not_mixed_unless_tiny() -> None:
    # with 512 tokens every section is tiny (<= 64 tokens) and they share a chunk (<= 256
    # tokens); with 16 tokens none is tiny (<= 2 tokens).
    assert run_manual(*GUIDE, budget=512) == [
        "Read me first.\n\nGuide\nWelcome text.\n\nGuide > Install\n"
        "Run the installer and follow the steps.\n\nGuide > Install > Linux\n"
        "Use apt to install the package.\n\nGuide > Usage\nStart it.",
    ]
    assert run_manual(*GUIDE, budget=16) == [
        "Read me first.",
        "Guide\nWelcome text.",
        "Guide > Install\nRun the installer and follow the steps.",
        "Guide > Install > Linux\nUse apt to install the package.",
        "Guide > Usage\nStart it.",
    ]


def test_a_long_section_is_filled_to_the_budget_with_its_path_repeated() -> None:
    body = text(" ".join(f"word{i}" for i in range(20)) + ".")
    found = run_manual(heading("Guide"), heading("Part", 2), body, budget=10)
    assert found == [
        "Guide > Part\nword0 word1 word2 word3 word4 word5 word6",
        "Guide > Part\nword7 word8 word9 word10 word11 word12 word13",
        "Guide > Part\nword14 word15 word16 word17 word18 word19.",
    ]
    assert all(count_tokens(chunk) <= 10 for chunk in found)


def test_a_heading_without_text_gets_a_chunk_only_without_subsections() -> None:
    blocks = [heading("Guide"), heading("Install", 2), text("Steps."), heading("Appendix", 2)]
    assert run_manual(*blocks, budget=16) == ["Guide > Install\nSteps.", "Guide > Appendix"]


def test_blank_headings_are_ignored() -> None:
    assert run_manual(heading("Guide"), heading("  ", 2), text("x")) == ["Guide\nx"]


def test_a_long_heading_path_loses_its_top_levels() -> None:
    blocks = [heading("Alpha beta"), heading("Gamma delta", 2), heading("Epsilon", 3), text("x")]
    assert run_manual(*blocks, budget=8) == ["Gamma delta > Epsilon\nx"]
    assert run_manual(*blocks, budget=14) == ["Alpha beta > Gamma delta > Epsilon\nx"]


def test_tables_in_a_section_carry_the_path() -> None:
    blocks = [heading("Prices"), table(("Item", "Cost"), ("Tea", "2")), text("After.")]
    assert run_manual(*blocks, budget=10) == ["Prices\nItem: Tea; Cost: 2", "Prices\nAfter."]


def test_the_heading_position_and_page_start_the_sections_first_chunk() -> None:
    blocks = [
        Block(BlockKind.HEADING, "Title", page=1, box=Box(1, 2, 3, 4), level=1),
        Block(BlockKind.TEXT, "a b c d", page=2, box=Box(5, 6, 7, 8)),
    ]
    found = manual.chunk(doc(*blocks), options(4), count_tokens)
    assert [(c.content, c.positions, c.page) for c in found] == [
        ("Title\na b c", [[1, 1, 3, 2, 4], [2, 5, 7, 6, 8]], 1),
        ("Title\nd", [[2, 5, 7, 6, 8]], 2),
    ]


def test_book_chapters_in_running_text_are_headings() -> None:
    blocks = [
        text("Chapter 1 The Beginning\nIt was a dark night.\nChapter 2 The End\nIt was over."),
        text("第一章 开始\n天很黑。"),
        text("Chapter 3 is where the long story of the family really begins, in a small town."),
    ]
    found = contents(book.chunk(doc(*blocks), options(16), count_tokens))
    assert found == [
        "Chapter 1 The Beginning\nIt was a dark night.",
        "Chapter 2 The End\nIt was over.",
        "第一章 开始\n天很黑。",
        "第一章 开始\nChapter 3 is where the long story of the family really",
        "第一章 开始\nbegins, in a small town.",
    ]
    assert contents(manual.chunk(doc(*blocks[:1]), options(16), count_tokens)) == [
        "Chapter 1 The Beginning\nIt was a dark night.\nChapter 2 The End\nIt was over."
    ]


PAPER = [
    heading("A Study", 1),
    heading("Abstract", 2),
    text("We study x."),
    heading("Introduction", 2),
    text("Intro text."),
    heading("Method", 2),
    text("M."),
]


def test_the_abstract_of_a_paper_is_never_merged() -> None:
    found = contents(paper.chunk(doc(*PAPER), options(64), count_tokens))
    assert found == [
        "A Study > Abstract\nWe study x.",
        "A Study > Introduction\nIntro text.\n\nA Study > Method\nM.",
    ]
    merged = contents(manual.chunk(doc(*PAPER), options(64), count_tokens))
    assert merged == ["\n\n".join(found)]


def test_an_abstract_in_running_text_is_found() -> None:
    blocks = [
        heading("Title"),
        text("Abstract: We propose a method."),
        text("1 Introduction text follows."),
    ]
    found = contents(paper.chunk(doc(*blocks), options(64), count_tokens))
    assert found == ["Title > Abstract\nWe propose a method.\n1 Introduction text follows."]
    chinese = contents(paper.chunk(doc(text("摘要：本文研究。")), options(64), count_tokens))
    assert chinese == ["摘要\n本文研究。"]


LAW = (
    "Chapter 1 General Provisions\n"
    "Article 1 This law applies.\n"
    "Article 2. Words mean things. See Article 5 for more.\n"
    "Chapter 2 Rights\n"
    "Article 3 People have rights."
)


def test_english_articles_are_sections_that_never_share_a_chunk() -> None:
    found = contents(laws.chunk(doc(heading("Civil Code"), text(LAW)), options(64), count_tokens))
    assert found == [
        "Civil Code > Chapter 1 General Provisions > Article 1\nThis law applies.",
        "Civil Code > Chapter 1 General Provisions > Article 2\n"
        "Words mean things. See Article 5 for more.",
        "Civil Code > Chapter 2 Rights > Article 3\nPeople have rights.",
    ]


def test_chinese_articles_chapters_and_sections() -> None:
    law = text(
        "第一章 总则\n第一节 目的\n第一条　为了保护权利，制定本法。\n第二条 本法适用于全国。\n"
        "第二章 权利\n第十二条 公民享有权利。"
    )
    assert contents(laws.chunk(doc(law), options(64), count_tokens)) == [
        "第一章 总则 > 第一节 目的 > 第一条\n为了保护权利，制定本法。",
        "第一章 总则 > 第一节 目的 > 第二条\n本法适用于全国。",
        "第二章 权利 > 第十二条\n公民享有权利。",
    ]


def test_sections_and_paragraph_signs_are_articles() -> None:
    law = text("Preamble.\nSection 3. Scope of this act.\n§ 5 Penalties apply.\nSec. 7 Repeal.")
    assert contents(laws.chunk(doc(law), options(64), count_tokens)) == [
        "Preamble.",
        "Section 3\nScope of this act.",
        "§ 5\nPenalties apply.",
        "Sec. 7\nRepeal.",
    ]


def test_a_long_article_keeps_its_path_in_every_chunk() -> None:
    law = text("Article 9 " + " ".join(f"w{i}" for i in range(9)))
    assert contents(laws.chunk(doc(law), options(5), count_tokens)) == [
        "Article 9\nw0 w1 w2",
        "Article 9\nw3 w4 w5",
        "Article 9\nw6 w7 w8",
    ]
