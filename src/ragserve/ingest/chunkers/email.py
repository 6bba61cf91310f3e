"""email: header fields, body chunks prefixed with the headers, attachments chunked apart.

The parser's first block holds the headers ("From: ...", "To: ..." lines); blocks whose
``section`` is a file name are that attachment's content.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.naive import prefixed_chunks
from ragserve.ingest.types import Block, ParsedDocument

HEADER_FIELDS = ("from", "to", "cc", "subject", "date")
_LABELS = {"from": "From", "to": "To", "cc": "Cc", "subject": "Subject", "date": "Date"}
_HEADER = re.compile(r"^(from|to|cc|subject|date)\s*:\s*(.*)$", re.I)
_OTHER_HEADER = re.compile(r"^[A-Za-z][\w-]*:\s")


def parse_headers(text: str) -> tuple[dict[str, str], str]:
    """The header fields (``""`` when absent) and the rest of ``text`` (the body, if any)."""
    fields = dict.fromkeys(HEADER_FIELDS, "")
    body: list[str] = []
    last: str | None = None
    seen = False
    for line in text.splitlines():
        if body:
            body.append(line)
        elif found := _HEADER.match(line):
            last, seen = found.group(1).lower(), True
            fields[last] = ", ".join(v for v in (fields[last], found.group(2).strip()) if v)
        elif last is not None and line[:1] in (" ", "\t") and line.strip():
            fields[last] = f"{fields[last]} {line.strip()}".strip()
        elif seen and _OTHER_HEADER.match(line):
            last = None
        elif line.strip():
            body.append(line)
    return fields, "\n".join(body).strip()


def header_text(fields: dict[str, str]) -> str:
    """``"From: ...\\nTo: ...\\nSubject: ..."`` for the headers present."""
    return "\n".join(f"{_LABELS[key]}: {fields[key]}" for key in HEADER_FIELDS if fields[key])


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Body chunks and attachment chunks, all carrying the header fields."""
    blocks = kept_blocks(doc, options)
    if not blocks:
        return []
    fields = dict.fromkeys(HEADER_FIELDS, "")
    first = blocks[0]
    if not first.section:
        fields, rest = parse_headers(first.text)
        if any(fields.values()):
            blocks = [replace(first, text=rest), *blocks[1:]] if rest else blocks[1:]
    prefix = header_text(fields)
    drafts = prefixed_chunks(prefix, [b for b in blocks if not b.section], options, count_tokens)
    if not drafts and prefix:
        drafts = [draft(prefix, [first])]
    attachments: dict[str, list[Block]] = {}
    for block in blocks:
        if block.section:
            attachments.setdefault(block.section, []).append(block)
    for chunk_ in drafts:
        chunk_.fields = dict(fields)
    for name, attached in attachments.items():
        for chunk_ in prefixed_chunks(f"Attachment: {name}", attached, options, count_tokens):
            chunk_.fields = {**fields, "attachment": name}
            drafts.append(chunk_)
    return drafts
