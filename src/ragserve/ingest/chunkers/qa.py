"""qa: question/answer pairs, one chunk each.

Pairs come from table rows (question, answer), from "Q: / A:" style lines (also "Question:",
"问：", "答：" ...), from "question<TAB>answer" lines, and from a heading followed by text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragserve.ingest.chunkers.base import (
    ChunkDraft,
    ChunkingOptions,
    CountTokens,
    draft,
    kept_blocks,
)
from ragserve.ingest.chunkers.split import is_mostly_cjk
from ragserve.ingest.chunkers.tables import data_rows
from ragserve.ingest.types import Block, BlockKind, ParsedDocument

_QUESTION = re.compile(r"^\s*(?:Question|Q|问题|问)\s*[0-9]*\s*[:：]\s*", re.I)
_ANSWER = re.compile(r"^\s*(?:Answer|A|答案|回答|答)\s*[0-9]*\s*[:：]\s*", re.I)


@dataclass
class _Pair:
    question: list[str]
    blocks: list[Block]
    answer: list[str] = field(default_factory=list)
    answering: bool = False

    def add(self, line: str, block: Block) -> None:
        (self.answer if self.answering else self.question).append(line)
        if block not in self.blocks:
            self.blocks.append(block)


def qa_draft(question: str, answer: str, blocks: list[Block]) -> ChunkDraft | None:
    """``"Question: q\\tAnswer: a"`` (``"问题：q\\t回答：a"`` for a Chinese question), or None."""
    question = _QUESTION.sub("", question.strip(), count=1).strip()
    answer = _ANSWER.sub("", answer.strip(), count=1).strip()
    if not question or not answer:
        return None
    labels = ("问题：", "回答：") if is_mostly_cjk(question) else ("Question: ", "Answer: ")
    chunk = draft(f"{labels[0]}{question}\t{labels[1]}{answer}", blocks)
    chunk.fields = {"question": question, "answer": answer}
    chunk.questions = [question]
    return chunk


class _Collector:
    def __init__(self) -> None:
        self.drafts: list[ChunkDraft] = []
        self.pair: _Pair | None = None

    def emit(self, question: str, answer: str, blocks: list[Block]) -> None:
        if (chunk := qa_draft(question, answer, blocks)) is not None:
            self.drafts.append(chunk)

    def close(self) -> None:
        if self.pair is not None:
            pair, self.pair = self.pair, None
            self.emit(" ".join(pair.question), "\n".join(pair.answer), pair.blocks)

    def line(self, line: str, block: Block) -> None:
        if found := _QUESTION.match(line):
            self.close()
            self.pair = _Pair([line[found.end() :]], [block])
        elif self.pair is not None and (found := _ANSWER.match(line)):
            self.pair.answering = True
            self.pair.add(line[found.end() :], block)
        elif self.pair is None and len(cells := line.split("\t")) == 2:
            self.emit(cells[0], cells[1], [block])
        elif self.pair is not None and line.strip():
            self.pair.add(line.strip(), block)


def chunk(
    doc: ParsedDocument, options: ChunkingOptions, count_tokens: CountTokens
) -> list[ChunkDraft]:
    """One chunk per question/answer pair found; text that is neither is left out."""
    collector = _Collector()
    for block in kept_blocks(doc, options):
        if block.kind is BlockKind.TABLE and block.rows:
            collector.close()
            for row in data_rows(block):
                if len(row) >= 2:
                    collector.emit(row[0], row[1], [block])
        elif block.kind is BlockKind.HEADING:
            collector.close()
            collector.pair = _Pair([block.text.strip()], [block], answering=True)
        else:
            for line in block.text.splitlines():
                collector.line(line, block)
    collector.close()
    return collector.drafts
