"""Requests that act on a list of ids: RAGFlow reports duplicates and partial failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragserve.errors import DataError


@dataclass
class BatchOutcome:
    """How many items of a batch succeeded, and one message per item that did not."""

    succeeded: int = 0
    errors: list[str] = field(default_factory=list)

    def raise_if_all_failed(self) -> None:
        if self.errors and not self.succeeded:
            raise DataError("; ".join(self.errors))


def unique_ids(ids: Sequence[str], kind: str, outcome: BatchOutcome) -> list[str]:
    """The ids in first-seen order; each repeated id adds ``Duplicate <kind> ids: <id>``."""
    counts = Counter(ids)
    outcome.errors.extend(f"Duplicate {kind} ids: {i}" for i, count in counts.items() if count > 1)
    return list(counts)
