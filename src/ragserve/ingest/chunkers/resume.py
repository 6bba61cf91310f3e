"""resume: structured fields found by heuristics, a summary chunk, and a chunk per section.

Sections open at headings and at short lines naming a known section (English or Chinese).
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
from ragserve.ingest.chunkers.split import fit
from ragserve.ingest.chunkers.structure import PATH_SEPARATOR, Marker, Section, sections
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

# Checked in order: "项目经历" is projects, "教育经历" education, "工作经历" experience.
SECTION_WORDS = {
    "education": ("education", "academic", "qualification", "教育", "学历"),
    "projects": ("project", "项目"),
    "skills": ("skill", "competenc", "技能", "专长"),
    "experience": ("experience", "employment", "work history", "career", "工作", "经历", "经验"),
}
FIELDS = ("name", "email", "phone", "education", "experience", "skills", "projects")
_WORDS = "|".join(re.escape(word) for words in SECTION_WORDS.values() for word in words)
SECTION_MARKERS = (
    Marker(
        re.compile(rf"(?i)(?=(?:\S+\s*){{1,4}}$)(?=.{{1,40}}$)[^.,;。，]*(?:{_WORDS})"), 1, True
    ),
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{5,}\d")
_DATES = re.compile(
    r"\s*(?:19|20)\d\d(?:[./-]\d{1,2})?\s*[-–~]\s*(?:19|20)\d\d(?:[./-]\d{1,2})?\s*"
)


def section_key(title: str) -> str | None:
    """``education`` / ``projects`` / ``skills`` / ``experience`` for a section title, or None."""
    lowered = title.lower()
    if len(lowered) > 40:
        return None
    return next(
        (key for key, words in SECTION_WORDS.items() if any(w in lowered for w in words)), None
    )


def find_phone(text: str) -> str:
    """The first run of 7-15 digits with phone punctuation that is not a date range."""
    for found in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", found.group(0))
        if 7 <= len(digits) <= 15 and not _DATES.fullmatch(found.group(0)):
            return found.group(0).strip()
    return ""


def _text(blocks: list[Block]) -> str:
    return "\n".join(block.text.strip() for block in blocks if block.text.strip())


def _name_line(text: str) -> str:
    for line in (line.strip() for line in text.splitlines()):
        words = line.split()
        if line and len(line) <= 40 and len(words) <= 5 and not re.search(r"[@:：\d]", line):
            return line
    return ""


def _extract(
    found: list[Section], all_text: str
) -> tuple[dict[str, str], list[Section], list[Block]]:
    """Fields, the sections after the preamble, and the preamble's blocks."""
    preamble: list[Block] = []
    name = ""
    rest = list(found)
    if rest and not rest[0].path:
        preamble.extend(rest.pop(0).blocks)
    if rest and len(rest[0].path) == 1 and section_key(rest[0].path[0]) is None:
        name_section = rest.pop(0)
        name = name_section.path[0]
        heading = [name_section.heading] if name_section.heading is not None else []
        preamble.extend(heading + name_section.blocks)
    head = _text(preamble)
    fields = dict.fromkeys(FIELDS, "")
    fields["name"] = name or _name_line(head)
    fields["email"] = next(iter(_EMAIL.findall(head) or _EMAIL.findall(all_text)), "")
    fields["phone"] = find_phone(head) or find_phone(all_text)
    for section in rest:
        key = section_key(section.path[-1])
        if key is not None and (body := _text(section.blocks)):
            fields[key] = "\n".join(v for v in (fields[key], body) if v)
    return fields, rest, preamble


def _profile(preamble: list[Block], fields: dict[str, str]) -> list[Block]:
    """The preamble's lines other than the name, email and phone, as one block (or none)."""
    known = {fields["name"], fields["email"], fields["phone"]} - {""}
    lines = [line for line in _text(preamble).splitlines() if not any(k in line for k in known)]
    text = "\n".join(line for line in lines if line.strip())
    if not text:
        return []
    source = next((b for b in preamble if b.kind is not BlockKind.HEADING), preamble[0])
    return [replace(source, kind=BlockKind.TEXT, text=text)]


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """A summary chunk with all fields, a "Profile" chunk for other preamble text, then sections."""
    blocks = kept_blocks(doc, options)
    fields, rest, preamble = _extract(sections(blocks, SECTION_MARKERS), _text(blocks))
    lines = [f"{key.capitalize()}: {fields[key]}" for key in FIELDS if fields[key]]
    if not lines:
        return []
    summary = "\n".join(line.replace("\n", "; ") for line in lines)
    budget = options.chunk_token_num
    drafts = [draft(fit(summary, budget, budget, count_tokens)[0], preamble, dict(fields))]
    parts = [("Profile", _profile(preamble, fields), "profile")] if preamble else []
    parts += [(s.path[-1], s.blocks, section_key(s.path[-1]) or s.path[-1]) for s in rest]
    for title, body, key in parts:
        prefix = PATH_SEPARATOR.join(t for t in (fields["name"], title) if t)
        for section_chunk in prefixed_chunks(prefix, body, options, count_tokens):
            section_chunk.fields = {"section": key, "name": fields["name"]}
            drafts.append(section_chunk)
    return drafts
