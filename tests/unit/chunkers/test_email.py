from __future__ import annotations

from ragserve.ingest.chunkers import email
from ragserve.ingest.chunkers.email import parse_headers
from ragserve.ingest.types import Block
from unit.chunkers.support import count_tokens, doc, options, text

HEADERS = (
    "From: Ann <ann@example.com>\n"
    "To: bob@example.com,\n"
    "  carol@example.com\n"
    "Cc: dan@example.com\n"
    "X-Mailer: Thing\n"
    "Subject: Lunch plans\n"
    "Date: Tue, 1 Apr 2025 10:00:00 +0000"
)
FIELDS = {
    "from": "Ann <ann@example.com>",
    "to": "bob@example.com, carol@example.com",
    "cc": "dan@example.com",
    "subject": "Lunch plans",
    "date": "Tue, 1 Apr 2025 10:00:00 +0000",
}
PREFIX = (
    "From: Ann <ann@example.com>\nTo: bob@example.com, carol@example.com\n"
    "Cc: dan@example.com\nSubject: Lunch plans\nDate: Tue, 1 Apr 2025 10:00:00 +0000"
)


def test_headers_are_parsed_and_the_rest_is_body() -> None:
    assert parse_headers(HEADERS + "\n\nHello there.\nSubject: not a header") == (
        FIELDS,
        "Hello there.\nSubject: not a header",
    )
    assert parse_headers("Note: just text") == (dict.fromkeys(FIELDS, ""), "Note: just text")


def test_body_chunks_start_with_the_headers_and_carry_them_as_fields() -> None:
    blocks = [text(HEADERS), text("Shall we meet at noon?"), text("Bring the report.")]
    found = email.chunk(doc(*blocks), options(), count_tokens)
    assert [(c.content, c.fields) for c in found] == [
        (PREFIX + "\nShall we meet at noon?\nBring the report.", FIELDS),
    ]


def test_the_body_is_split_within_the_budget_minus_the_headers() -> None:
    blocks = [text("From: a@b.c\nSubject: Hi"), text("one two three four five six")]
    found = email.chunk(doc(*blocks), options(8), count_tokens)
    assert [c.content for c in found] == [
        "From: a@b.c\nSubject: Hi\none two three four",
        "From: a@b.c\nSubject: Hi\nfive six",
    ]
    assert all(count_tokens(c.content) <= 8 for c in found)
    assert found[0].fields == {"from": "a@b.c", "to": "", "cc": "", "subject": "Hi", "date": ""}


def test_attachments_are_chunked_apart_with_their_name() -> None:
    blocks = [
        text("From: a@b.c\nSubject: Report\n\nSee attached."),
        Block(text("Q1 sales rose.").kind, "Q1 sales rose.", section="report.pdf"),
        Block(text("x").kind, "Sheet data", section="data.xlsx"),
        Block(text("x").kind, "Q2 too.", section="report.pdf"),
    ]
    found = email.chunk(doc(*blocks), options(), count_tokens)
    base = {"from": "a@b.c", "to": "", "cc": "", "subject": "Report", "date": ""}
    assert [(c.content, c.fields) for c in found] == [
        ("From: a@b.c\nSubject: Report\nSee attached.", base),
        ("Attachment: report.pdf\nQ1 sales rose.\nQ2 too.", {**base, "attachment": "report.pdf"}),
        ("Attachment: data.xlsx\nSheet data", {**base, "attachment": "data.xlsx"}),
    ]


def test_headers_alone_are_one_chunk_and_no_headers_means_plain_body() -> None:
    [alone] = email.chunk(doc(text("From: a@b.c")), options(), count_tokens)
    assert (alone.content, alone.fields["from"]) == ("From: a@b.c", "a@b.c")
    [plain] = email.chunk(doc(text("Just a note.")), options(), count_tokens)
    assert (plain.content, set(plain.fields.values())) == ("Just a note.", {""})
