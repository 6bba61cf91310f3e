"""What every chunker shares: the chunk it produces, the options it reads, and small helpers.

A chunker is a function ``chunk(doc, options, count_tokens) -> list[ChunkDraft]``. Token counts
come from the injected ``count_tokens`` (cl100k in production), so chunkers stay pure and testable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ragserve.ingest.types import Block, ParsedDocument

CountTokens = Callable[[str], int]

DEFAULT_CHUNK_TOKEN_NUM = 512
DEFAULT_DELIMITER = "\n"


@dataclass
class ChunkDraft:
    """A chunk before it gets an id and an embedding.

    ``positions`` holds one ``[page, x0, x1, top, bottom]`` (ints, PDF points) per source block
    that has a box, in reading order; ``page`` is the page of the chunk's first block (0 when the
    format has no pages). ``fields`` carries method-specific structure (see docs/chunk-methods.md).
    """

    content: str
    positions: list[list[int]] = field(default_factory=list)
    important_keywords: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    page: int = 0


@dataclass(frozen=True)
class ChunkingOptions:
    """The ``parser_config`` keys chunkers honour, already normalised.

    ``delimiter`` follows RAGFlow: every single character is a delimiter, and a multi-character
    delimiter is written in backticks (`` "`##`\\n" `` splits on ``##`` and on newlines). ``pages``
    are inclusive 1-based ranges; ``None`` keeps every page.
    """

    chunk_token_num: int = DEFAULT_CHUNK_TOKEN_NUM
    delimiter: str = DEFAULT_DELIMITER
    html4excel: bool = False
    pages: list[tuple[int, int]] | None = None
    title: str = ""

    @classmethod
    def from_parser_config(cls, config: Mapping[str, Any], title: str) -> ChunkingOptions:
        """Options from a stored ``parser_config``; missing or malformed keys get defaults."""
        return cls(
            chunk_token_num=_positive_int(config.get("chunk_token_num")),
            delimiter=decode_escapes(str(config.get("delimiter") or "")) or DEFAULT_DELIMITER,
            html4excel=config.get("html4excel") is True
            or str(config.get("html4excel")).lower() == "true",
            pages=_page_ranges(config.get("pages")),
            title=title,
        )

    @property
    def delimiters(self) -> tuple[str, ...]:
        return parse_delimiters(self.delimiter)


Chunker = Callable[[ParsedDocument, ChunkingOptions, CountTokens], list[ChunkDraft]]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_ESCAPE = re.compile(r"\\([ntr\\])")
_BACKTICKED = re.compile(r"`([^`]+)`")


def decode_escapes(text: str) -> str:
    r"""Turn the two-character escapes ``\n``, ``\t``, ``\r`` and ``\\`` into the characters."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], text)


@lru_cache(maxsize=64)
def parse_delimiters(delimiter: str) -> tuple[str, ...]:
    """The delimiters in a RAGFlow delimiter string, longest first, without duplicates."""
    text = decode_escapes(delimiter)
    found: list[str] = []
    start = 0
    for match in _BACKTICKED.finditer(text):
        found.extend(text[start : match.start()])
        found.append(match.group(1))
        start = match.end()
    found.extend(text[start:])
    unique = dict.fromkeys(d for d in found if d)
    return tuple(sorted(unique, key=len, reverse=True))


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        return DEFAULT_CHUNK_TOKEN_NUM
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_CHUNK_TOKEN_NUM
    return number if number > 0 else DEFAULT_CHUNK_TOKEN_NUM


def _page_ranges(value: Any) -> list[tuple[int, int]] | None:
    if not isinstance(value, list | tuple):
        return None
    ranges: list[tuple[int, int]] = []
    for item in value:
        if (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in item)
        ):
            ranges.append((item[0], item[1]))
    return ranges or None


def kept_blocks(doc: ParsedDocument, options: ChunkingOptions) -> list[Block]:
    """The document's blocks inside ``options.pages`` (blocks without a page are always kept)."""
    if options.pages is None:
        return list(doc.blocks)
    return [
        block
        for block in doc.blocks
        if block.page == 0 or any(low <= block.page <= high for low, high in options.pages)
    ]


def position_of(block: Block) -> list[int] | None:
    """RAGFlow's ``[page, x0, x1, top, bottom]`` for a block with a box."""
    if block.box is None:
        return None
    box = block.box
    return [block.page, round(box.x0), round(box.x1), round(box.top), round(box.bottom)]


def positions_of(blocks: Iterable[Block]) -> list[list[int]]:
    """The positions of ``blocks`` in order, each distinct position once."""
    positions: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    for block in blocks:
        position = position_of(block)
        if position is not None and tuple(position) not in seen:
            seen.add(tuple(position))
            positions.append(position)
    return positions


def draft(content: str, blocks: list[Block], fields: dict[str, Any] | None = None) -> ChunkDraft:
    """A chunk of ``content`` coming from ``blocks`` (positions and first page filled in)."""
    return ChunkDraft(
        content=content,
        positions=positions_of(blocks),
        fields=fields or {},
        page=blocks[0].page if blocks else 0,
    )
