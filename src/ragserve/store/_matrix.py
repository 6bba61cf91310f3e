"""Exact float32 copies of one dataset's vectors in memory, by chunk row id.

The HNSW graph (``_hnsw``) stores int8 vectors: half the search time of float32 and a quarter
of the memory, but only approximate distances. This matrix holds every vector normalised to
unit length, so a cosine similarity is one dot product: it rescores what the graph finds,
scans small datasets and filtered subsets outright, and scores text hits, all without reading
the wide chunk rows from SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy

Rows = numpy.ndarray
"""Chunk row ids, int64."""

_FREE = -1
_MIN_RUN = 32
"""Slots are multiplied run by run when their runs of consecutive slots average this long."""


class VectorMatrix:
    """Unit float32 vectors keyed by row id, each with its chunk's document; a row without a
    vector here scores nothing."""

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        self._matrix = numpy.zeros((0, ndim), dtype=numpy.float32)
        self._rows = numpy.zeros(0, dtype=numpy.int64)
        """The row id held by each slot, ``_FREE`` where none."""
        self._documents = numpy.zeros(0, dtype=numpy.int32)
        """The document (as a code of ``_codes``) of each slot's chunk."""
        self._codes: dict[str, int] = {}
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        self._used = 0
        """Slots below this index have been handed out (some may be free again)."""
        self._lookup: tuple[numpy.ndarray, numpy.ndarray] | None = None
        """Held row ids sorted, and their slots: built on demand, dropped by any change."""
        self._by_document: tuple[numpy.ndarray, numpy.ndarray] | None = None
        """Held slots ordered by document code, and where each code's run of them starts:
        built on demand, dropped by any change."""

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, row_id: int) -> bool:
        return row_id in self._slots

    def add(self, row_ids: Rows, vectors: numpy.ndarray, document_ids: list[str]) -> None:
        """Store these rows' vectors (``vectors`` is ``len(row_ids) x ndim``) and documents,
        replacing any held for the same rows."""
        self.remove(row_ids)
        norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit = (vectors / norms).astype(numpy.float32, copy=False)
        reused = min(len(self._free), len(row_ids))
        slots = [self._free.pop() for _ in range(reused)]
        fresh = len(row_ids) - reused
        self._reserve(self._used + fresh)
        slots.extend(range(self._used, self._used + fresh))
        self._used += fresh
        positions = numpy.asarray(slots, dtype=numpy.int64)
        self._matrix[positions] = unit
        self._rows[positions] = row_ids
        codes = self._codes
        self._documents[positions] = [codes.setdefault(d, len(codes)) for d in document_ids]
        self._slots.update(zip(row_ids.tolist(), slots, strict=True))
        self._lookup = self._by_document = None

    def remove(self, row_ids: Rows) -> None:
        for row_id in row_ids.tolist():
            slot = self._slots.pop(row_id, None)
            if slot is not None:
                self._rows[slot] = _FREE
                self._matrix[slot] = 0.0
                self._free.append(slot)
                self._lookup = self._by_document = None

    def scores(self, query: numpy.ndarray, row_ids: Rows) -> tuple[Rows, numpy.ndarray]:
        """The rows among ``row_ids`` held here and their cosine similarity to the unit
        ``query``, in the given order."""
        held, slots = self._find(row_ids)
        return held, numpy.clip(self._matrix[slots] @ query, -1.0, 1.0)

    def nearest(
        self,
        query: numpy.ndarray,
        count: int,
        row_ids: Rows | None = None,
        document_ids: Iterable[str] | None = None,
    ) -> tuple[Rows, numpy.ndarray]:
        """The ``count`` rows most similar to the unit ``query``, best first (ties by row id),
        among ``row_ids``, or among the chunks of ``document_ids``, or among all rows."""
        if row_ids is not None:
            rows, similarity = self.scores(query, row_ids)
        elif document_ids is not None:
            slots = self._document_slots(document_ids)
            rows, similarity = self._rows[slots], self._product(query, slots)
        else:
            slots = numpy.flatnonzero(self._rows[: self._used] != _FREE)
            rows, similarity = self._rows[slots], (self._matrix[: self._used] @ query)[slots]
        if len(rows) > count:
            keep = numpy.argpartition(-similarity, count - 1)[:count]
            rows, similarity = rows[keep], similarity[keep]
        order = numpy.lexsort((rows, -similarity))
        return rows[order], numpy.clip(similarity[order], -1.0, 1.0)

    def _document_slots(self, document_ids: Iterable[str]) -> numpy.ndarray:
        """The held slots of these documents' chunks, ascending."""
        if self._by_document is None:
            held = numpy.flatnonzero(self._rows[: self._used] != _FREE)
            codes = self._documents[held]
            order = numpy.argsort(codes, kind="stable")
            starts = numpy.searchsorted(codes[order], numpy.arange(len(self._codes) + 1))
            self._by_document = (held[order], starts)
        ordered, starts = self._by_document
        wanted = sorted(self._codes[d] for d in set(document_ids) if d in self._codes)
        if not wanted:
            return ordered[:0]
        runs = [ordered[starts[code] : starts[code + 1]] for code in wanted]
        return numpy.sort(numpy.concatenate(runs))

    def _product(self, query: numpy.ndarray, slots: numpy.ndarray) -> numpy.ndarray:
        """The similarity of these (ascending) slots' vectors to ``query``. Chunks of one
        document mostly sit in consecutive slots: long runs are multiplied where they lie
        rather than copied out first, which takes longer than the product itself."""
        breaks = numpy.flatnonzero(numpy.diff(slots) != 1) + 1
        if len(breaks) + 1 > len(slots) // _MIN_RUN:
            gathered: numpy.ndarray = self._matrix[slots] @ query
            return gathered
        firsts = slots[numpy.concatenate(([0], breaks))].tolist()
        lasts = slots[numpy.concatenate((breaks - 1, [len(slots) - 1]))].tolist()
        return numpy.concatenate(
            [
                self._matrix[first : last + 1] @ query
                for first, last in zip(firsts, lasts, strict=True)
            ]
        )

    def _find(self, row_ids: Rows) -> tuple[Rows, numpy.ndarray]:
        """The rows among ``row_ids`` held here, in the given order, and their slots."""
        if self._lookup is None:
            slots = numpy.flatnonzero(self._rows[: self._used] != _FREE)
            order = numpy.argsort(self._rows[slots])
            self._lookup = (self._rows[slots][order], slots[order])
        sorted_rows, sorted_slots = self._lookup
        if not len(sorted_rows):
            return row_ids[:0], sorted_slots
        at = numpy.minimum(numpy.searchsorted(sorted_rows, row_ids), len(sorted_rows) - 1)
        found = sorted_rows[at] == row_ids
        return row_ids[found], sorted_slots[at[found]]

    def _reserve(self, size: int) -> None:
        if size <= len(self._rows):
            return
        capacity = max(size, 2 * len(self._rows), 1024)
        matrix = numpy.zeros((capacity, self.ndim), dtype=numpy.float32)
        matrix[: self._used] = self._matrix[: self._used]
        rows = numpy.full(capacity, _FREE, dtype=numpy.int64)
        rows[: self._used] = self._rows[: self._used]
        documents = numpy.zeros(capacity, dtype=numpy.int32)
        documents[: self._used] = self._documents[: self._used]
        self._matrix, self._rows, self._documents = matrix, rows, documents
