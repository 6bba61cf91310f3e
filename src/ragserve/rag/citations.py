"""Citation markers in answers: ``[ID:n]`` points at ``reference.chunks[n]``.

Models write markers in many shapes; ``normalise`` turns them into RAGFlow's. When a model wrote
none, ``insert_citations`` adds them by embedding similarity between each sentence of the answer
and the chunks it was given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

MARKER = re.compile(r"\[ID:(\d+)\]")
_VARIANTS = re.compile(
    r"[(\[【（]\s*(?:ID|id)\s*[:：]\s*(\d+)\s*[)\]】）]|\bref\s+(\d+)\b", re.IGNORECASE
)
_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+|\n|$)")
MIN_SENTENCE_WORDS = 4
CITATION_SIMILARITY = 0.55
"""Cosine a sentence must reach with a chunk to cite it (MiniLM-scale; unrelated text stays
well below, a sentence restating a passage well above)."""


def normalise(answer: str) -> str:
    """``(ID: 3)``, ``[ID: 3]``, ``【ID:3】``, ``ref 3`` ... become ``[ID:3]``."""
    return _VARIANTS.sub(lambda m: f"[ID:{m.group(1) or m.group(2)}]", answer)


def cited(answer: str, chunk_count: int) -> list[int]:
    """Indexes cited in the answer that point at one of the chunks, in order of first use."""
    found = (int(m.group(1)) for m in MARKER.finditer(answer))
    return list(dict.fromkeys(i for i in found if 0 <= i < chunk_count))


def drop_invalid(answer: str, chunk_count: int) -> str:
    """Remove markers that point at no chunk."""
    return MARKER.sub(lambda m: m.group(0) if int(m.group(1)) < chunk_count else "", answer)


def insert_citations(
    answer: str,
    chunk_vectors: Sequence[np.ndarray | None],
    embed: Callable[[list[str]], np.ndarray],
) -> str:
    """The answer with `` [ID:n]`` after each sentence that closely restates chunk ``n``."""
    usable = [(i, v) for i, v in enumerate(chunk_vectors) if v is not None]
    spans = [m for m in _SENTENCE.finditer(answer) if len(m.group(0).split()) >= MIN_SENTENCE_WORDS]
    if not usable or not spans:
        return answer
    sentences = embed([m.group(0).strip() for m in spans])
    matrix = np.stack([v for _, v in usable]).astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    similarity = sentences @ matrix.T
    pieces, last = [], 0
    for span, row in zip(spans, similarity, strict=True):
        best = int(np.argmax(row))
        end = span.end()
        sentence = answer[last:end]
        if row[best] >= CITATION_SIMILARITY:
            marker = f" [ID:{usable[best][0]}]"
            stripped = sentence.rstrip("\n")
            sentence = stripped + marker + sentence[len(stripped) :]
        pieces.append(sentence)
        last = end
    pieces.append(answer[last:])
    return "".join(pieces)
