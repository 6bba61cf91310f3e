"""Hybrid scoring: fuse term and vector similarities, apply the threshold, page, aggregate.

Pure functions over ``Candidate`` lists, so the retrieval service, chat and agents score alike
and the arithmetic is tested without a store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragserve.store.base import Candidate

Rerank = Callable[[str, list[str]], list[float]]
"""A rerank model: relevance in [0, 1] of each text to the question, in order."""


@dataclass(frozen=True)
class Scored:
    """A candidate with its final similarity (what the threshold and the order use)."""

    chunk_id: str
    document_id: str
    similarity: float
    term_similarity: float
    vector_similarity: float
    document_name: str = ""


def fuse(candidates: Sequence[Candidate], vector_weight: float) -> list[Scored]:
    """``(1 - w) * term + w * vector`` for every candidate, best first (ties by chunk id)."""
    weight = min(max(vector_weight, 0.0), 1.0)
    scored = [
        Scored(
            chunk_id=c.chunk_id,
            document_id=c.document_id,
            similarity=(1.0 - weight) * c.term_similarity + weight * c.vector_similarity,
            term_similarity=c.term_similarity,
            vector_similarity=c.vector_similarity,
            document_name=c.document_name,
        )
        for c in candidates
    ]
    return sorted(scored, key=lambda s: (-s.similarity, s.chunk_id))


def rescore(
    ranked: Sequence[Scored], rerank_scores: Sequence[float], vector_weight: float
) -> list[Scored]:
    """Replace the vector similarity by the rerank model's score (as RAGFlow does) and sort
    again: ``(1 - w) * term + w * rerank``."""
    weight = min(max(vector_weight, 0.0), 1.0)
    rescored = [
        Scored(
            chunk_id=s.chunk_id,
            document_id=s.document_id,
            similarity=(1.0 - weight) * s.term_similarity + weight * score,
            term_similarity=s.term_similarity,
            vector_similarity=score,
            document_name=s.document_name,
        )
        for s, score in zip(ranked, rerank_scores, strict=True)
    ]
    return sorted(rescored, key=lambda s: (-s.similarity, s.chunk_id))


def above(ranked: Sequence[Scored], threshold: float) -> list[Scored]:
    """The candidates whose similarity reaches the threshold, in order."""
    return [s for s in ranked if s.similarity >= threshold]


def page_of(ranked: Sequence[Scored], page: int, page_size: int) -> list[Scored]:
    start = (max(page, 1) - 1) * max(page_size, 0)
    return list(ranked[start : start + max(page_size, 0)])


def document_counts(ranked: Sequence[Scored]) -> list[tuple[str, int]]:
    """``(document_id, chunks)`` over the ranked chunks, most chunks first, then by first
    appearance."""
    counts = Counter(s.document_id for s in ranked)
    first = {doc: i for i, doc in reversed(list(enumerate(s.document_id for s in ranked)))}
    return sorted(counts.items(), key=lambda item: (-item[1], first[item[0]]))
