"""Markdown (CommonMark with GFM tables) through markdown-it-py.

Headings keep their levels, paragraphs are TEXT, list items LIST_ITEM (one per item, its
nested lists separate), fenced and indented code CODE, tables TABLE. Inline markup is reduced to
its text. YAML (``---``) or TOML (``+++``) front matter is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ragserve.ingest.parsers.html import parse_html_text
from ragserve.ingest.parsers.text import decode_text, table_block
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

_FRONT_MATTER = re.compile(
    r"\A(?:---[ \t]*\n.*?\n(?:---|\.\.\.)|\+\+\+[ \t]*\n.*?\n\+\+\+)[ \t]*(?:\n|\Z)", re.DOTALL
)


def parse_markdown(data: bytes) -> ParsedDocument:
    """A Markdown file (.md, .markdown, .mdx)."""
    return parse_markdown_text(decode_text(data))


def parse_markdown_text(text: str) -> ParsedDocument:
    text = _FRONT_MATTER.sub("", text, count=1)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return ParsedDocument(blocks=_Converter().convert(tokens))


class _Converter:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        # Per open list item: its paragraphs so far, or None once written out.
        self._items: list[list[str] | None] = []
        self._heading = 0
        self._table: list[list[str]] | None = None

    def convert(self, tokens: Sequence[Token]) -> list[Block]:
        for token in tokens:
            self._token(token)
        return self.blocks

    def _token(self, token: Token) -> None:
        kind = token.type
        if kind == "heading_open":
            self._heading = int(token.tag[1:])
        elif kind == "heading_close":
            self._heading = 0
        elif kind == "list_item_open":
            self._flush_item()  # the parent item goes before its nested items
            self._items.append([])
        elif kind == "list_item_close":
            self._flush_item()
            self._items.pop()
        elif kind == "table_open":
            self._table = []
        elif kind == "tr_open" and self._table is not None:
            self._table.append([])
        elif kind == "table_close" and self._table is not None:
            block = table_block(self._table, has_header=len(self._table) > 1)
            self._table = None
            if block is not None:
                self.blocks.append(block)
        elif kind in ("fence", "code_block"):
            self._add(BlockKind.CODE, token.content.strip("\n").rstrip())
        elif kind == "html_block":
            for block in parse_html_text(token.content).blocks:
                self._append(block)
        elif kind == "inline":
            self._inline(_plain_text(token.children or []))

    def _inline(self, text: str) -> None:
        if self._table is not None:
            if self._table:
                self._table[-1].append(text)
        elif self._heading:
            self._add(BlockKind.HEADING, text, self._heading)
        elif self._items and self._items[-1] is not None:
            self._items[-1].append(text)
        else:
            self._add(BlockKind.TEXT, text)

    def _flush_item(self) -> None:
        if self._items and self._items[-1] is not None:
            paragraphs = self._items[-1]
            self._items[-1] = None
            text = "\n".join(part for part in paragraphs if part)
            if text:
                self.blocks.append(Block(kind=BlockKind.LIST_ITEM, text=text))

    def _add(self, kind: BlockKind, text: str, level: int = 0) -> None:
        if text.strip():
            self._append(Block(kind=kind, text=text, level=level))

    def _append(self, block: Block) -> None:
        self._flush_item()
        self.blocks.append(block)


def _plain_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_plain_text(child.children or []))
    return "".join(parts).strip()
