"""One usearch HNSW index per dataset: a derived cache of the vectors stored in SQLite.

The graph holds int8 copies of the vectors; beside it each process keeps the exact float32
vectors in a ``VectorMatrix`` (read from SQLite when a saved index is opened), which rescores
what the graph finds and answers small or filtered searches exactly.

Each process keeps its own in-memory index per dataset it searches, keyed by ``chunk.row_id``
(AUTOINCREMENT, so a key never names two chunks). Every write logs the rows whose vector
changed to ``vector_log`` in the writing transaction; an index remembers the last log entry it
applied and, before each search, replays the entries after it. Replaying is state based and so
idempotent: for every row named in the new entries the index drops the key and re-adds the
row's current vector if the row still exists in the dataset. A ``clear`` entry (written by
``delete_dataset``, which also drops the dataset's older entries) empties the index.

An index is saved to ``<dir>/<dataset>.usearch`` on close, after a rebuild and after
``SAVE_AFTER`` replayed rows: written to a temporary file, fsynced, then renamed over the old
file inside a SQLite write transaction that also records the file's log position in
``vector_index_state`` - unless another process already saved a newer one, so no update is
lost. A missing, unreadable, stale or dimension-mismatched file is rebuilt from SQLite.

The log is kept (entries are a few dozen bytes; 200k chunks make ~6 MB) except that deleting a
dataset replaces its entries with one ``clear`` marker. Keeping it means a process whose index
lags (or a file left by a killed process) can always catch up without coordinating with others.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy

# onnxruntime must be in the process before usearch: every onnxruntime release from 1.23 on
# crashes on import once usearch's numkong library is loaded (onnxruntime is pinned to 1.22.1).
import onnxruntime  # type: ignore[import-untyped]  # noqa: F401  isort: skip
import xxhash
from usearch.compiled import MetricKind, ScalarKind
from usearch.index import Index

from ragserve.store._matrix import Rows, VectorMatrix
from ragserve.store.base import ChunkStoreError

CONNECTIVITY = 32
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256
"""Candidate list size while searching; random 384-d data needs ~256 for 0.95 recall@10,
real embeddings (far lower intrinsic dimension) reach it well below."""
EXACT_RATIO = 32
EXACT_BELOW = 32_768
"""A dataset of fewer than ``EXACT_BELOW`` vectors, or of at most ``EXACT_RATIO`` times the
requested count, is scanned exactly: one matrix product, faster there than walking the graph."""
SAVE_AFTER = 10_000
"""Save an index once this many rows were replayed into it since it was last saved."""
BATCH_ROWS = 4096
ADD_THREADS = 1
"""usearch 2.26's concurrent batch insertion leaves some nodes unreachable (seen on a few
hundred vectors in about half the builds), so vectors are added by one thread."""

logger = logging.getLogger(__name__)

Connect = Callable[[], sqlite3.Connection]
_Row = tuple[int, str, bytes]
"""A chunk's row id, document id and vector blob."""


class _Stale(Exception):
    """The index cannot be brought up to date by replaying the log; rebuild it."""


@dataclass
class _Loaded:
    index: Index
    vectors: VectorMatrix
    applied_seq: int
    unsaved: int = 0


@dataclass(frozen=True)
class Neighbours:
    """Keys (chunk row ids) and cosine similarities, best first."""

    row_ids: list[int]
    scores: list[float]
    exhaustive: bool
    """Whether every vector of the dataset was considered."""


class VectorIndexes:
    """This process's HNSW indexes, one per dataset, brought up to date from the log on use."""

    def __init__(self, connect: Connect, directory: Path) -> None:
        self._connect = connect
        self._directory = directory
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    def search(self, dataset_id: str, query: numpy.ndarray, count: int) -> Neighbours | None:
        """The ``count`` nearest vectors of the dataset, or None if it has none."""
        with self._lock:
            loaded = self._searchable(dataset_id, query)
            if loaded is None:
                return None
            vectors, size = loaded.vectors, len(loaded.vectors)
            count = min(count, size)
            if size < EXACT_BELOW or size <= EXACT_RATIO * count:
                rows, scores = vectors.nearest(query, count)
            else:
                index = loaded.index
                # usearch declares the setter oddly, so mypy takes the property as read-only
                index.expansion_search = max(EXPANSION_SEARCH, count)  # type: ignore[misc]
                found = index.search(query, count).keys.astype(numpy.int64)
                rows, scores = vectors.nearest(query, count, found)
            return Neighbours(rows.tolist(), scores.astype(numpy.float64).tolist(), count >= size)

    def nearest_among(
        self, dataset_id: str, query: numpy.ndarray, row_ids: Rows, count: int
    ) -> list[tuple[int, float]]:
        """The ``count`` rows among ``row_ids`` nearest to ``query``, by exact cosine."""
        with self._lock:
            loaded = self._searchable(dataset_id, query)
            if loaded is None or count < 1:
                return []
            rows, scores = loaded.vectors.nearest(query, count, row_ids)
            return list(zip(rows.tolist(), scores.astype(numpy.float64).tolist(), strict=True))

    def nearest_in_documents(
        self, dataset_id: str, query: numpy.ndarray, document_ids: Iterable[str], count: int
    ) -> Neighbours | None:
        """The ``count`` chunks of these documents nearest to ``query``, by exact cosine."""
        with self._lock:
            loaded = self._searchable(dataset_id, query)
            if loaded is None or count < 1:
                return None
            rows, scores = loaded.vectors.nearest(query, count + 1, document_ids=document_ids)
            exhaustive = len(rows) <= count
            rows, scores = rows[:count], scores[:count].astype(numpy.float64)
            return Neighbours(rows.tolist(), scores.tolist(), exhaustive)

    def cosines(self, dataset_id: str, query: numpy.ndarray, row_ids: Rows) -> dict[int, float]:
        """The exact cosine similarity to ``query`` of those rows that have a vector of its
        size in the dataset."""
        with self._lock:
            loaded = self._current(dataset_id)
            if loaded is None or loaded.vectors.ndim != query.size:
                return {}
            rows, scores = loaded.vectors.scores(query, row_ids)
            return dict(zip(rows.tolist(), scores.astype(numpy.float64).tolist(), strict=True))

    def refresh(self, dataset_ids: Iterable[str]) -> None:
        """Bring the indexes of these datasets that this process holds up to date."""
        with self._lock:
            for dataset_id in set(dataset_ids):
                if dataset_id in self._loaded:
                    self._current(dataset_id)

    def forget(self, dataset_id: str) -> None:
        """Drop the dataset's index from memory and disk (its rows are deleted already)."""
        with self._lock:
            self._loaded.pop(dataset_id, None)
            self._path(dataset_id).unlink(missing_ok=True)

    def save_all(self) -> None:
        """Save every index holding changes not yet in its file."""
        with self._lock:
            for dataset_id, loaded in self._loaded.items():
                if loaded.unsaved:
                    self._save(dataset_id, loaded)

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()

    def _searchable(self, dataset_id: str, query: numpy.ndarray) -> _Loaded | None:
        """The dataset's current index if it holds vectors; raises if they are not of the
        query's size."""
        loaded = self._current(dataset_id)
        if loaded is None or len(loaded.vectors) == 0:
            return None
        if query.size != loaded.vectors.ndim:
            raise ChunkStoreError(
                f"the query vector has {query.size} dimensions, "
                f"dataset {dataset_id} has {loaded.vectors.ndim}"
            )
        return loaded

    def _current(self, dataset_id: str) -> _Loaded | None:
        loaded = self._loaded.get(dataset_id)
        try:
            if loaded is None:
                loaded = self._open(dataset_id)
            else:
                self._catch_up(dataset_id, loaded)
        except _Stale as why:
            logger.info("rebuilding the vector index of dataset %s: %s", dataset_id, why)
            loaded = self._rebuild(dataset_id)
        if loaded is None:
            self._loaded.pop(dataset_id, None)
            return None
        self._loaded[dataset_id] = loaded
        if loaded.unsaved >= SAVE_AFTER:
            self._save(dataset_id, loaded)
        return loaded

    def _open(self, dataset_id: str) -> _Loaded | None:
        """The index from its file brought up to date, else rebuilt; None without vectors."""
        conn = self._connect()
        found = conn.execute(
            "SELECT length(vector) FROM chunk WHERE dataset_id = ? AND vector IS NOT NULL LIMIT 1",
            (dataset_id,),
        ).fetchone()
        if found is None:
            return None
        state = conn.execute(
            "SELECT applied_seq FROM vector_index_state WHERE dataset_id = ?", (dataset_id,)
        ).fetchone()
        if state is None:
            raise _Stale("no saved index")
        ndim = found[0] // 4
        index = self._read_file(dataset_id, ndim)
        loaded = _Loaded(index, _read_vectors(conn, dataset_id, ndim), applied_seq=state[0])
        self._catch_up(dataset_id, loaded, verify=True)
        return loaded

    def _read_file(self, dataset_id: str, ndim: int) -> Index:
        path = self._path(dataset_id)
        if not path.is_file():
            raise _Stale(f"{path} is missing")
        try:
            index = Index.restore(str(path))
        except (OSError, ValueError, RuntimeError, MemoryError) as error:
            raise _Stale(f"{path} is unreadable: {error}") from None
        if index is None:
            raise _Stale(f"{path} is not a usearch index")
        if index.ndim != ndim or index.metric_kind != MetricKind.Cos or index.multi:
            raise _Stale(f"{path} does not fit the dataset's {ndim}-d cosine vectors")
        if index.dtype != ScalarKind.I8:
            raise _Stale(f"{path} does not hold int8 vectors")
        return index

    def _catch_up(self, dataset_id: str, loaded: _Loaded, *, verify: bool = False) -> None:
        """Replay the log entries after ``loaded.applied_seq``; with ``verify``, also check
        that the index then holds exactly the dataset's vectors."""
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            entries = conn.execute(
                "SELECT seq, chunk_row, op FROM vector_log WHERE dataset_id = ? AND seq > ? "
                "ORDER BY seq",
                (dataset_id, loaded.applied_seq),
            ).fetchall()
            clears = [position for position, entry in enumerate(entries) if entry[2] == "clear"]
            replay = entries[clears[-1] + 1 :] if clears else entries
            row_ids = sorted({entry[1] for entry in replay})
            current = _vectors_of(conn, dataset_id, row_ids) if row_ids else []
            expected = _vector_count(conn, dataset_id) if verify else None
        finally:
            conn.execute("COMMIT")
        if any(len(row[2]) != loaded.index.ndim * 4 for row in current):
            raise _Stale("the dataset's vectors changed dimension (embedded again)")
        if clears:
            loaded.index = new_index(loaded.index.ndim)
            loaded.vectors = VectorMatrix(loaded.index.ndim)
        if row_ids:
            loaded.index.remove(numpy.asarray(row_ids, dtype=numpy.uint64))
            loaded.vectors.remove(numpy.asarray(row_ids, dtype=numpy.int64))
        if current:
            _add(loaded, current)
        if entries:
            loaded.applied_seq = entries[-1][0]
            loaded.unsaved += len(row_ids) + len(clears)
        if expected is not None and not len(loaded.index) == len(loaded.vectors) == expected:
            raise _Stale(
                f"the index holds {len(loaded.index)} vectors and the matrix "
                f"{len(loaded.vectors)}, SQLite {expected}"
            )

    def _rebuild(self, dataset_id: str) -> _Loaded | None:
        """A new index from the vectors in SQLite, saved; None if the dataset has none.

        Reads in batches, each its own snapshot: rows read after the log position was taken
        may be newer than it, which is harmless because replaying is idempotent."""
        conn = self._connect()
        seq = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM vector_log WHERE dataset_id = ?", (dataset_id,)
        ).fetchone()[0]
        loaded: _Loaded | None = None
        last_row = 0
        while True:
            batch = conn.execute(
                "SELECT row_id, document_id, vector FROM chunk INDEXED BY chunk_dataset_vector "
                "WHERE dataset_id = ? AND vector IS NOT NULL AND row_id > ? "
                "ORDER BY row_id LIMIT ?",
                (dataset_id, last_row, BATCH_ROWS),
            ).fetchall()
            if not batch:
                break
            last_row = batch[-1][0]
            if loaded is None:
                ndim = len(batch[0][2]) // 4
                loaded = _Loaded(new_index(ndim), VectorMatrix(ndim), applied_seq=seq)
            ndim = loaded.index.ndim
            _add(loaded, [row for row in batch if len(row[2]) == ndim * 4])
        if loaded is None:
            return None
        loaded.unsaved = len(loaded.index)
        try:
            self._catch_up(dataset_id, loaded, verify=True)
        except _Stale as why:
            raise ChunkStoreError(
                f"the vectors of dataset {dataset_id} changed while its index was rebuilt "
                f"({why}); try again"
            ) from None
        self._save(dataset_id, loaded)
        return loaded

    def _save(self, dataset_id: str, loaded: _Loaded) -> None:
        """Write the index file unless a newer one is saved; failures only log (it's a cache)."""
        path = self._path(dataset_id)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            loaded.index.save(str(temporary))
            _fsync(temporary)
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if _may_replace(conn, dataset_id, loaded.applied_seq):
                    temporary.replace(path)
                    _fsync(path.parent)
                    conn.execute(
                        "INSERT OR REPLACE INTO vector_index_state (dataset_id, applied_seq) "
                        "VALUES (?, ?)",
                        (dataset_id, loaded.applied_seq),
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            loaded.unsaved = 0
        except (OSError, RuntimeError, sqlite3.Error) as error:
            logger.warning("could not save the vector index %s: %s", path, error)
        finally:
            temporary.unlink(missing_ok=True)

    def _path(self, dataset_id: str) -> Path:
        return self._directory / f"{index_name(dataset_id)}.usearch"


def new_index(ndim: int) -> Index:
    """An empty cosine HNSW index of int8 vectors with the store's parameters."""
    return Index(
        ndim=ndim,
        metric=MetricKind.Cos,
        dtype=ScalarKind.I8,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def index_name(dataset_id: str) -> str:
    """The dataset id if it is a safe file name (RAGFlow's are 32 hex chars), else a hash."""
    if dataset_id.replace("-", "").replace("_", "").isalnum() and dataset_id.isascii():
        return dataset_id
    return f"id-{xxhash.xxh128_hexdigest(dataset_id.encode())}"


def _add(loaded: _Loaded, rows: list[_Row]) -> None:
    """Add (row_id, document_id, vector blob) rows, all of one dimension; an empty index
    adopts it."""
    if not rows:
        return
    ndim = len(rows[0][2]) // 4
    if any(len(blob) != ndim * 4 for _, _, blob in rows):
        raise _Stale("the dataset holds vectors of different dimensions")
    if ndim != loaded.index.ndim:
        if len(loaded.index):
            raise _Stale(f"vectors changed from {loaded.index.ndim} to {ndim} dimensions")
        loaded.index, loaded.vectors = new_index(ndim), VectorMatrix(ndim)
    keys = numpy.fromiter((row[0] for row in rows), dtype=numpy.int64, count=len(rows))
    matrix = numpy.frombuffer(b"".join(row[2] for row in rows), dtype=numpy.float32)
    matrix = matrix.reshape(len(rows), ndim)
    loaded.vectors.add(keys, matrix, [row[1] for row in rows])
    loaded.index.add(keys.astype(numpy.uint64), matrix, threads=ADD_THREADS)


def _read_vectors(conn: sqlite3.Connection, dataset_id: str, ndim: int) -> VectorMatrix:
    """The dataset's vectors as stored now (the caller's catch-up replays later changes)."""
    vectors = VectorMatrix(ndim)
    cursor = conn.execute(
        "SELECT row_id, document_id, vector FROM chunk INDEXED BY chunk_dataset_vector "
        "WHERE dataset_id = ? AND vector IS NOT NULL",
        (dataset_id,),
    )
    while batch := cursor.fetchmany(BATCH_ROWS):
        if any(len(row[2]) != ndim * 4 for row in batch):
            raise _Stale("the dataset holds vectors of different dimensions")
        keys = numpy.fromiter((row[0] for row in batch), numpy.int64, len(batch))
        matrix = numpy.frombuffer(b"".join(row[2] for row in batch), dtype=numpy.float32)
        vectors.add(keys, matrix.reshape(len(batch), ndim), [row[1] for row in batch])
    return vectors


def _vectors_of(conn: sqlite3.Connection, dataset_id: str, row_ids: list[int]) -> list[_Row]:
    rows: list[_Row] = conn.execute(
        "SELECT row_id, document_id, vector FROM chunk "
        "WHERE row_id IN (SELECT value FROM json_each(?)) AND dataset_id = ? "
        "AND vector IS NOT NULL",
        (json.dumps(row_ids), dataset_id),
    ).fetchall()
    return rows


def _vector_count(conn: sqlite3.Connection, dataset_id: str) -> int:
    count: int = conn.execute(
        "SELECT count(*) FROM chunk INDEXED BY chunk_dataset_vector "
        "WHERE dataset_id = ? AND vector IS NOT NULL",
        (dataset_id,),
    ).fetchone()[0]
    return count


def _may_replace(conn: sqlite3.Connection, dataset_id: str, applied_seq: int) -> bool:
    """Whether a file current up to ``applied_seq`` is no older than the saved one (an equal
    one may have been found broken) and the dataset was not deleted after it."""
    state = conn.execute(
        "SELECT applied_seq FROM vector_index_state WHERE dataset_id = ?", (dataset_id,)
    ).fetchone()
    if state is not None and state[0] > applied_seq:
        return False
    cleared = conn.execute(
        "SELECT 1 FROM vector_log WHERE dataset_id = ? AND seq > ? AND op = 'clear' LIMIT 1",
        (dataset_id, applied_seq),
    ).fetchone()
    return cleared is None


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
