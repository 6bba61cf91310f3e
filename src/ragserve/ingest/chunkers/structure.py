"""Sections under a heading path: what manual, paper, book, laws and resume chunk by.

A section is a heading and the blocks up to the next heading of any level. Each chunk of a section
starts with the section's heading path, ``"Part > Chapter > Section"``, on a line of its own, and
is filled up to the budget with that section's text only. Consecutive tiny sections (at most an
eighth of the budget each) may share a chunk of at most half the budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    position_of,
)
from ragserve.ingest.chunkers.naive import prefixed_chunks
from ragserve.ingest.types import Block, BlockKind

PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class Marker:
    """A line in running text that opens a section: ``pattern`` matched at the line start.

    With ``whole_line`` the whole line is the heading ("Chapter 2 Definitions"); otherwise only
    the match is, and the rest of the line is the section's first text ("Article 3 The ...").
    """

    pattern: re.Pattern[str]
    level: int
    whole_line: bool = False


@dataclass
class Section:
    path: tuple[str, ...]
    heading: Block | None
    blocks: list[Block] = field(default_factory=list)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _match(line: str, markers: Sequence[Marker]) -> tuple[int, str, str] | None:
    stripped = line.strip()
    for marker in markers:
        found = marker.pattern.match(stripped)
        if found is None:
            continue
        if marker.whole_line:
            return marker.level, _clean(stripped), ""
        rest = stripped[found.end() :].lstrip(" \t.:：、-—–")
        return marker.level, _clean(found.group(0)).rstrip(" .:：、"), rest
    return None


def sections(blocks: list[Block], markers: Sequence[Marker] = ()) -> list[Section]:
    """``blocks`` grouped into sections by HEADING blocks and by ``markers`` in text lines."""
    stack: list[tuple[int, str]] = []
    result = [Section((), None)]

    def open_section(level: int, title: str, block: Block) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        result.append(Section(tuple(title for _, title in stack), block))

    for block in blocks:
        if block.kind is BlockKind.HEADING:
            if block.text.strip():
                open_section(max(block.level, 1), _clean(block.text), block)
            continue
        if block.kind is BlockKind.TABLE or not markers:
            result[-1].blocks.append(block)
            continue
        lines: list[str] = []
        split = False
        for line in block.text.splitlines():
            if (hit := _match(line, markers)) is None:
                lines.append(line)
                continue
            split = True
            _keep(result[-1], block, lines)
            level, title, rest = hit
            open_section(level, title, block)
            lines = [rest]
        if split:
            _keep(result[-1], block, lines)
        else:
            result[-1].blocks.append(block)
    return [section for section in result if section.blocks or section.heading is not None]


def _keep(section: Section, block: Block, lines: list[str]) -> None:
    text = "\n".join(lines).strip()
    if text:
        section.blocks.append(replace(block, text=text))


def _prefix(path: tuple[str, ...], budget: int, count_tokens: CountTokens) -> str:
    while len(path) > 1 and count_tokens(PATH_SEPARATOR.join(path)) > budget // 2:
        path = path[1:]
    return PATH_SEPARATOR.join(path)


def _is_ancestor(section: Section, later: Section) -> bool:
    size = len(section.path)
    return len(later.path) > size and later.path[:size] == section.path


def render(
    found: list[Section],
    options: ChunkingOptions,
    count_tokens: CountTokens,
    merge_tiny: bool = True,
    alone: Callable[[Section], bool] = lambda _section: False,
) -> list[ChunkDraft]:
    """Chunks of each section with its heading path; tiny sections merged when ``merge_tiny``.

    A heading without text of its own gets no chunk when a subsection follows (its title is in
    the subsection's path); ``alone`` marks sections never merged with others.
    """
    budget = options.chunk_token_num
    drafts: list[ChunkDraft] = []
    mergeable = False  # whether the last draft is a tiny section (or tiny sections) open to more
    for number, section in enumerate(found):
        prefix = _prefix(section.path, budget, count_tokens)
        if section.blocks:
            chunks = prefixed_chunks(prefix, section.blocks, options, count_tokens)
        elif number + 1 < len(found) and _is_ancestor(section, found[number + 1]):
            continue
        else:
            chunks = [draft(prefix, [])]
        heading = position_of(section.heading) if section.heading is not None else None
        if chunks and section.heading is not None:
            chunks[0].page = section.heading.page
            if heading is not None and heading not in chunks[0].positions:
                chunks[0].positions.insert(0, heading)
        tiny = (
            merge_tiny
            and len(chunks) == 1
            and not alone(section)
            and count_tokens(chunks[0].content) <= budget // 8
        )
        if tiny and mergeable and _fits(drafts[-1], chunks[0], budget // 2, count_tokens):
            _merge_into(drafts[-1], chunks[0])
            continue
        drafts.extend(chunks)
        mergeable = tiny
    return drafts


def _fits(first: ChunkDraft, second: ChunkDraft, limit: int, count_tokens: CountTokens) -> bool:
    return count_tokens(first.content + "\n\n" + second.content) <= limit


def _merge_into(target: ChunkDraft, other: ChunkDraft) -> None:
    target.content = f"{target.content}\n\n{other.content}"
    target.positions.extend(p for p in other.positions if p not in target.positions)
