"""Helpers for chunker tests: a predictable token counter and block builders."""

from __future__ import annotations

import re

from ragserve.ingest.chunkers import ChunkDraft, ChunkingOptions
from ragserve.ingest.types import Block, BlockKind, Box, ParsedDocument

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def count_tokens(text: str) -> int:
    """One token per CJK character and per whitespace-separated run of anything else."""
    return len(_CJK.findall(text)) + len(_CJK.sub(" ", text).split())


def options(
    budget: int = 512,
    delimiter: str = "\n",
    html4excel: bool = False,
    pages: list[tuple[int, int]] | None = None,
) -> ChunkingOptions:
    return ChunkingOptions(
        chunk_token_num=budget, delimiter=delimiter, html4excel=html4excel, pages=pages
    )


def text(value: str, page: int = 0, box: Box | None = None) -> Block:
    return Block(BlockKind.TEXT, value, page=page, box=box)


def heading(value: str, level: int = 1, page: int = 0, box: Box | None = None) -> Block:
    return Block(BlockKind.HEADING, value, page=page, box=box, level=level)


def table(*rows: tuple[str, ...], header: bool = True, page: int = 0, section: str = "") -> Block:
    rendered = "\n".join("\t".join(row) for row in rows)
    return Block(
        BlockKind.TABLE, rendered, page=page, rows=tuple(rows), has_header=header, section=section
    )


def doc(*blocks: Block, page_count: int = 0) -> ParsedDocument:
    return ParsedDocument(blocks=list(blocks), page_count=page_count)


def contents(drafts: list[ChunkDraft]) -> list[str]:
    return [chunk.content for chunk in drafts]


def words(value: str) -> list[str]:
    return value.split()


def every_kind(page: int = 1) -> list[Block]:
    """One block of each kind, all on ``page``, each with a box."""
    box = Box(10.4, 20.6, 300.5, 40.2)
    return [
        Block(BlockKind.HEADING, f"Heading p{page}", page=page, box=box, level=1),
        Block(BlockKind.TEXT, f"Some text on page {page}.", page=page, box=box),
        Block(BlockKind.LIST_ITEM, f"- a list item p{page}", page=page, box=box),
        Block(BlockKind.CODE, f"print({page})", page=page, box=box),
        Block(BlockKind.IMAGE, f"ocr words p{page}", page=page, box=box),
        Block(
            BlockKind.TABLE,
            "q\ta",
            page=page,
            box=box,
            rows=(("Question", "Answer"), (f"What is p{page}?", f"Page {page}, tag{page}")),
            has_header=True,
        ),
    ]
