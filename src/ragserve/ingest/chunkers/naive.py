"""naive: merge delimiter-separated pieces of text until the token budget is reached.

Headings stay with the text after them; tables become chunks of their own, cut between rows.
The merging here is also what the structure-aware methods use inside one section.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.split import fit, split_on_delimiters
from ragserve.ingest.chunkers.tables import table_parts
from ragserve.ingest.types import Block, BlockKind, ParsedDocument


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    index: int  # of the source block, so pieces of one block join without a newline
    block: Block
    heading: bool


class _Merger:
    def __init__(self, budget: int, count_tokens: CountTokens) -> None:
        self.budget = budget
        self.count_tokens = count_tokens
        self.newline = count_tokens("\n")
        self.drafts: list[ChunkDraft] = []
        self.pieces: list[_Piece] = []
        self.tokens = 0

    def _joiner(self, piece: _Piece) -> int:
        if not self.pieces or self.pieces[-1].index == piece.index:
            return 0
        return self.newline

    def _append(self, piece: _Piece) -> None:
        self.tokens += self._joiner(piece) + piece.tokens
        self.pieces.append(piece)

    def flush(self, carry_headings: bool = False) -> list[_Piece]:
        """Emit the pending pieces; with ``carry_headings`` trailing headings start the next chunk.

        Pending headings alone are kept pending (a heading never ends a chunk). Returns the
        pieces now pending.
        """
        cut = len(self.pieces)
        while carry_headings and cut and self.pieces[cut - 1].heading:
            cut -= 1
        if cut == 0:
            return self.pieces
        body, tail = self.pieces[:cut], self.pieces[cut:]
        content = body[0].text
        for before, piece in itertools.pairwise(body):
            content += ("" if before.index == piece.index else "\n") + piece.text
        blocks = list({piece.index: piece.block for piece in body}.values())
        if content.strip():
            self.drafts.append(draft(content.strip(), blocks))
        self.pieces, self.tokens = [], 0
        for piece in tail:
            self._append(piece)
        return self.pieces

    def add(self, piece: _Piece) -> None:
        if self.pieces and self.tokens + self._joiner(piece) + piece.tokens > self.budget:
            self.flush(carry_headings=True)
        room = self.budget - self.tokens - self._joiner(piece)
        if piece.tokens <= room:
            self._append(piece)
            return
        if piece.heading and self.pieces:  # only headings pending, and no room for another
            self.flush()
            room = self.budget
        parts = fit(piece.text, room, self.budget, self.count_tokens)
        for number, part in enumerate(parts):
            if part:
                self._append(_Piece(part, self.count_tokens(part), *_rest(piece)))
            if number < len(parts) - 1:
                self.flush()

    def take_headings(self) -> list[_Piece]:
        """Emit what is pending except trailing headings, and hand those over."""
        headings = self.flush(carry_headings=True)
        self.pieces, self.tokens = [], 0
        return headings


def _rest(piece: _Piece) -> tuple[int, Block, bool]:
    return piece.index, piece.block, piece.heading


def chunk_blocks(
    blocks: list[Block], options: ChunkingOptions, count_tokens: CountTokens, budget: int
) -> list[ChunkDraft]:
    """Naive chunks of ``blocks`` with at most ``budget`` tokens each (pages not filtered here)."""
    merger = _Merger(max(budget, 1), count_tokens)
    for index, block in enumerate(blocks):
        if block.kind is BlockKind.TABLE:
            headings = merger.take_headings()
            prefix = "\n".join(piece.text.strip() for piece in headings)
            sources = [piece.block for piece in headings] + [block]
            for part in table_parts(block, options.html4excel, budget, count_tokens, prefix):
                merger.drafts.append(draft(part, sources))
                sources = [block]
            continue
        heading = block.kind is BlockKind.HEADING
        texts = [block.text] if heading else split_on_delimiters(block.text, options.delimiters)
        for text in texts:
            if text.strip():
                merger.add(_Piece(text, count_tokens(text), index, block, heading))
    merger.flush()
    return merger.drafts


def prefixed_chunks(
    prefix: str, blocks: list[Block], options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Naive chunks of ``blocks``, each starting with the line ``prefix``, all within budget.

    A prefix longer than half the budget is cut to fit there.
    """
    budget = options.chunk_token_num
    prefix = fit(prefix, budget // 2, budget, count_tokens)[0] if prefix.strip() else ""
    if not prefix:
        return chunk_blocks(blocks, options, count_tokens, budget)
    room = budget - count_tokens(prefix) - count_tokens("\n")
    drafts = chunk_blocks(blocks, options, count_tokens, room)
    for chunk in drafts:
        chunk.content = f"{prefix}\n{chunk.content}"
    return drafts


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """Chunks of at most ``chunk_token_num`` tokens, split on ``delimiter``."""
    return chunk_blocks(kept_blocks(doc, options), options, count_tokens, options.chunk_token_num)
