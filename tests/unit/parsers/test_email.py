from __future__ import annotations

import io
from email import policy
from email.message import EmailMessage

import docx
import pytest

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.email import parse_email
from ragserve.ingest.types import BlockKind, ParseError


def _message(subject: str, body: str = "Hello there.\n\nSecond paragraph.") -> EmailMessage:
    message = EmailMessage(policy=policy.default)
    message["From"] = "Ada Lovelace <ada@example.com>"
    message["To"] = "alan@example.com, grace@example.com"
    message["Cc"] = "=?utf-8?q?J=C3=BCrgen?= <j@example.com>"
    message["Subject"] = subject
    message["Date"] = "Mon, 06 May 2024 10:00:00 +0000"
    message.set_content(body)
    return message


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Attached report", level=1)
    document.add_paragraph("Report body.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_headers_then_body_paragraphs() -> None:
    parsed = parse_file(_message("Plans").as_bytes(), suffix="eml")
    assert parsed.title == "Plans"
    assert [(block.kind, block.text) for block in parsed.blocks] == [
        (
            BlockKind.TEXT,
            "From: Ada Lovelace <ada@example.com>\n"
            "To: alan@example.com, grace@example.com\n"
            "Cc: Jürgen <j@example.com>\n"
            "Subject: Plans\n"
            "Date: Mon, 06 May 2024 10:00:00 +0000",
        ),
        (BlockKind.TEXT, "Hello there."),
        (BlockKind.TEXT, "Second paragraph."),
    ]


def test_plain_body_preferred_over_html() -> None:
    message = _message("Both", "Plain version.")
    message.add_alternative("<html><body><h1>HTML version</h1></body></html>", subtype="html")
    texts = [block.text for block in parse_email(message.as_bytes()).blocks[1:]]
    assert texts == ["Plain version."]


def test_html_only_body_goes_through_the_html_parser() -> None:
    message = _message("Html")
    message.set_content("<h2>Big news</h2><p>Details&nbsp;here</p><script>x()</script>", "html")
    blocks = parse_email(message.as_bytes()).blocks[1:]
    assert [(block.kind, block.text, block.level) for block in blocks] == [
        (BlockKind.HEADING, "Big news", 2),
        (BlockKind.TEXT, "Details here", 0),
    ]


def test_body_in_declared_charset() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.title == "Grüße"
    assert parsed.blocks[-1].text == "Grüße aus Köln"


def test_attachments_parsed_by_type_with_section() -> None:
    message = _message("With files", "See attached.")
    message.add_attachment(
        _docx_bytes(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="report.docx",
    )
    message.add_attachment(
        b"city,people\nRome,3\n", maintype="text", subtype="csv", filename="data.csv"
    )
    message.add_attachment(
        b"\x00garbage", maintype="application", subtype="octet-stream", filename="broken.docx"
    )
    message.add_attachment(b"\x89PNG logo", maintype="image", subtype="png", disposition="inline")
    blocks = parse_file(message.as_bytes(), suffix="eml").blocks
    attached = [(block.section, block.kind, block.text) for block in blocks if block.section]
    assert attached == [
        ("report.docx", BlockKind.HEADING, "Attached report"),
        ("report.docx", BlockKind.TEXT, "Report body."),
        ("data.csv", BlockKind.TABLE, "city | people\nRome | 3"),
    ]
    assert [block.text for block in blocks if not block.section][1:] == ["See attached."]


def test_nested_messages_up_to_three_levels() -> None:
    inner = _message("Level 4", "Body four.")
    for level in (3, 2, 1):
        outer = _message(f"Level {level}", f"Body {['one', 'two', 'three'][level - 1]}.")
        outer.add_attachment(inner, filename=f"level{level + 1}.eml")
        inner = outer
    top = _message("Top", "Top body.")
    top.add_attachment(inner, filename="level1.eml")
    blocks = parse_email(top.as_bytes()).blocks
    bodies = [(block.section, block.text) for block in blocks if block.text.startswith("Body")]
    assert bodies == [
        ("level1.eml", "Body one."),
        ("level1.eml / level2.eml", "Body two."),
        ("level1.eml / level2.eml / level3.eml", "Body three."),
    ]
    assert all("Body four" not in block.text for block in blocks)


def test_msg_is_refused() -> None:
    message = "Outlook .msg files are not supported yet; save the message as .eml."
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    for suffix in ("msg", "eml"):
        with pytest.raises(ParseError) as raised:
            parse_file(ole, suffix=suffix)
        assert str(raised.value) == message


@pytest.mark.parametrize(
    "data",
    [b"just some words, no headers at all", b"\xff\xfe\x00\x01garbage\r\n\r\n", b"\n\n\n"],
)
def test_not_an_email(data: bytes) -> None:
    with pytest.raises(ParseError, match="not an e-mail"):
        parse_file(data, suffix="eml")
