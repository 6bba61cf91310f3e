"""E-mail messages (.eml) through the standard library's ``email`` package.

The first TEXT block holds the From, To, Cc, Subject and Date headers; the body follows (the
text/plain part, else the HTML one), then the blocks of each attachment, parsed by its type,
with ``section`` naming the attachment. Attachments nested more than three levels deep are left
out, as are inline pictures.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.html import parse_html_text
from ragserve.ingest.parsers.text import OLE_MAGIC, damaged_file, decode_text, paragraph_blocks
from ragserve.ingest.types import Block, BlockKind, ParsedDocument, ParseError

logger = logging.getLogger(__name__)

MSG_NOT_SUPPORTED = "Outlook .msg files are not supported yet; save the message as .eml."
MAX_ATTACHMENT_DEPTH = 3
_HEADERS = ("From", "To", "Cc", "Subject", "Date")
_IDENTIFYING_HEADERS = (*_HEADERS, "Message-ID", "Received", "MIME-Version")


def parse_email(data: bytes, *, ocr: bool = True, depth: int = 0) -> ParsedDocument:
    """A message; ``depth`` is how deep in other messages' attachments it sits."""
    if data.startswith(OLE_MAGIC):
        raise ParseError(MSG_NOT_SUPPORTED)
    with damaged_file("The file is not a readable e-mail message."):
        message = BytesParser(policy=policy.default).parsebytes(data)
        if not isinstance(message, EmailMessage) or not any(
            name in message for name in _IDENTIFYING_HEADERS
        ):
            raise ParseError("The file is not an e-mail message.")
        subject = str(message.get("Subject", "")).strip()
        lines = [f"{name}: {message[name]}" for name in _HEADERS if message.get(name)]
        blocks = [Block(kind=BlockKind.TEXT, text="\n".join(lines))] if lines else []
        blocks.extend(_body_blocks(message))
        for name, attached in _attachment_documents(message, ocr=ocr, depth=depth):
            for block in attached.blocks:
                section = f"{name} / {block.section}" if block.section else name
                blocks.append(dataclasses.replace(block, section=section, page=0, box=None))
        return ParsedDocument(blocks=blocks, title=subject)


def _body_blocks(message: EmailMessage) -> list[Block]:
    body = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(body, EmailMessage):
        return []
    payload = body.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return []
    try:
        text = decode_text(payload, declared=body.get_content_charset())
    except ParseError:
        return []
    if body.get_content_subtype() == "html":
        return parse_html_text(text).blocks
    return paragraph_blocks(text)


def _attachment_documents(
    message: EmailMessage, *, ocr: bool, depth: int
) -> list[tuple[str, ParsedDocument]]:
    if depth + 1 > MAX_ATTACHMENT_DEPTH:
        return []
    documents = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        if not isinstance(part, EmailMessage):
            continue
        filename = part.get_filename() or ""
        content_type = part.get_content_type()
        if part.get_content_maintype() == "image" and part.get_content_disposition() != (
            "attachment"
        ):
            continue  # a picture shown in the body: a logo, a signature
        try:
            if content_type == "message/rfc822":
                inner = part.get_content()
                if not isinstance(inner, EmailMessage):
                    continue
                name = filename or f"attachment {number}.eml"
                document = parse_email(inner.as_bytes(), ocr=ocr, depth=depth + 1)
            else:
                payload = part.get_payload(decode=True)
                suffix = _suffix(filename, content_type)
                if not isinstance(payload, bytes) or not suffix:
                    continue
                name = filename or f"attachment {number}.{suffix}"
                document = parse_file(payload, suffix=suffix, ocr=ocr)
        except Exception as exc:
            logger.info("Skipped e-mail attachment %r: %s", filename, exc)
            continue
        documents.append((name, document))
    return documents


def _suffix(filename: str, content_type: str) -> str:
    _, dot, extension = filename.rpartition(".")
    if dot and extension:
        return extension.lower()
    guessed = mimetypes.guess_extension(content_type, strict=False)
    return guessed.lstrip(".").lower() if guessed else ""
