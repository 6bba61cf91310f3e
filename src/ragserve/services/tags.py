"""Tag sets: a dataset parsed with the ``tag`` method holds examples (a text and its tags);
a dataset whose ``parser_config.tag_kb_ids`` names tag sets gets its chunks tagged at parse
time, and its retrievals favour the chunks whose tags match the question's.

A text's tags are found as RAGFlow finds them: the text is searched (full text) in the tag
sets, and the tags of the best-matching examples are weighed by how well each example matched;
the ``topn_tags`` heaviest, normalised to sum to 1, are the text's ``tag_feas`` (kept in the
chunk's fields). At retrieval the question gets its tags the same way (the first dataset's
``topn_tags``), and every candidate's similarity gains ``TAG_WEIGHT`` times the overlap of the
two weightings (the sum over shared tags of the products), so a chunk about the question's
topic rises even when it shares few of its words. Only tag sets of the chunk's own tenant are
searched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.runtime import Runtime
from ragserve.store.base import ChunkFilter
from ragserve.tokenizer import tokenize

TAG_FEATURES = "tag_feas"
EXAMPLES = 32
"""Best-matching examples whose tags are counted."""
TAG_WEIGHT = 0.1
"""How much a full overlap of tags adds to a similarity (which is at most 1)."""


@dataclass(frozen=True)
class TagSets:
    """The tag sets a dataset uses: their ids, the tenant that owns them, and how many tags."""

    tenant_id: str
    dataset_ids: tuple[str, ...]
    top_n: int

    @classmethod
    def of(cls, tenant_id: str, parser_config: Mapping[str, Any] | None) -> TagSets | None:
        config = parser_config or {}
        ids = tuple(str(i) for i in config.get("tag_kb_ids") or [] if i)
        if not ids:
            return None
        top_n = config.get("topn_tags")
        count = top_n if isinstance(top_n, int) and not isinstance(top_n, bool) else 3
        return cls(tenant_id, ids, max(1, min(count, 10)))


def tags_for(runtime: Runtime, sets: TagSets, text: str) -> dict[str, float]:
    """The text's ``top_n`` tags with weights summing to 1; ``{}`` when no example matches."""
    terms = tokenize(text)
    if not terms:
        return {}
    hits = runtime.chunks.search_text(
        terms, ChunkFilter(tenant_ids=[sets.tenant_id], dataset_ids=sets.dataset_ids), EXAMPLES
    )
    weights: dict[str, float] = {}
    for hit in hits:
        for tag in hit.chunk.fields.get("tags") or []:
            weights[str(tag)] = weights.get(str(tag), 0.0) + hit.score
    best = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[: sets.top_n]
    total = sum(weight for _tag, weight in best)
    return {tag: round(weight / total, 4) for tag, weight in best} if total > 0 else {}


def tag_drafts(runtime: Runtime, sets: TagSets, drafts: Sequence[ChunkDraft]) -> str:
    """Give each draft its ``tag_feas``; the progress line to log."""
    tagged = 0
    for draft in drafts:
        features = tags_for(runtime, sets, draft.content)
        if features:
            draft.fields = {**(draft.fields or {}), TAG_FEATURES: features}
            tagged += 1
    return (
        f"Tagging: {tagged} of {len(drafts)} chunks tagged from {len(sets.dataset_ids)} tag sets."
    )


def overlap(question: Mapping[str, float], chunk_fields: Mapping[str, Any]) -> float:
    """How much the chunk's tags agree with the question's (0..1)."""
    features = chunk_fields.get(TAG_FEATURES)
    if not question or not isinstance(features, dict):
        return 0.0
    return sum(weight * float(features.get(tag, 0.0)) for tag, weight in question.items())
