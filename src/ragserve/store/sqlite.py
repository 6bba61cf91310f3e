"""The embedded chunk store: SQLite (source of truth, FTS5) plus usearch HNSW indexes and a
tantivy text index, both derived caches kept in step through logs written with every change.

Many processes may open the same files at once (a server searching, workers writing): SQLite
in WAL mode serialises the writers (``BEGIN IMMEDIATE``) beside any number of readers, and each
process keeps its vector indexes current from the log (see ``_hnsw``). Within a process the
store is thread safe: each thread gets its own connection.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy

from ragserve.store import _search
from ragserve.store._hnsw import VectorIndexes
from ragserve.store._rows import (
    COLUMNS,
    INSERT,
    UPDATE,
    check_unchanged,
    from_row,
    new_vectors,
    query_vector,
    to_row,
    to_update_params,
    vector_blob,
)
from ragserve.store._schema import connect, ensure_schema
from ragserve.store._text import TextIndex, TextScope
from ragserve.store.base import (
    Candidate,
    ChunkCounts,
    ChunkFilter,
    ChunkNotFound,
    ChunkRecord,
    ChunkStoreError,
    QueryVector,
    ScoredChunk,
)

MARGIN = 32
"""Vector search first asks for ``top_k + MARGIN`` neighbours (from HNSW, or exactly among the
chunks of the filter's documents): only unavailable chunks (and, in a dataset shared by
tenants, foreign ones) fail the filter after it, so these rarely fall short."""
WIDEN = 4
"""When too few neighbours pass the filter, ask once more for ``WIDEN`` times as many, then
scan exactly."""

logger = logging.getLogger(__name__)


class SqliteChunkStore:
    """A ``ChunkStore`` in one SQLite file (``path``) and a directory of HNSW index files."""

    def __init__(self, path: Path, vector_dir: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            vector_dir.mkdir(parents=True, exist_ok=True)
            ensure_schema(self._conn())
        except (OSError, sqlite3.Error) as error:
            self.close()
            raise ChunkStoreError(f"cannot open the chunk store at {path}: {error}") from error
        self._vector_dir = vector_dir
        self._vectors = VectorIndexes(self._conn, vector_dir)
        self._text = TextIndex(self._conn)

    def insert(self, chunks: Sequence[ChunkRecord]) -> None:
        if not chunks:
            return
        rows = [to_row(chunk) for chunk in chunks]
        with self._write() as conn:
            _insert(conn, chunks, rows)
        self._refresh(chunk.dataset_id for chunk in chunks)

    def replace_document(self, document_id: str, chunks: Sequence[ChunkRecord]) -> None:
        strangers = [chunk.id for chunk in chunks if chunk.document_id != document_id]
        if strangers:
            raise ChunkStoreError(f"chunks {strangers[:5]} are not of document {document_id}")
        rows = [to_row(chunk) for chunk in chunks]
        with self._write() as conn:
            deleted = conn.execute(
                "DELETE FROM chunk WHERE document_id = ? RETURNING dataset_id", (document_id,)
            ).fetchall()
            _insert(conn, chunks, rows)
        self._refresh([row[0] for row in deleted] + [c.dataset_id for c in chunks])

    def search_text(
        self, query_tokens: Sequence[str], filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        terms = _search.query_terms(query_tokens)
        if not terms or not _search.searchable(filters, top_k):
            return []
        hits = self._text_hits(terms, filters, top_k)
        with self._read() as conn:
            return _search.fetch(conn, hits, filters)

    def search_vector(
        self, vector: numpy.ndarray, filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        query = query_vector(vector)
        if not _search.searchable(filters, top_k):
            return []
        hits = self._nearest(query, filters, top_k, {})
        with self._read() as conn:
            return _search.fetch(conn, hits, filters)

    def candidates(
        self,
        query_tokens: Sequence[str],
        vector: QueryVector | None,
        filters: ChunkFilter,
        top_k: int,
        *,
        text_k: int | None = None,
    ) -> list[Candidate]:
        text_k = top_k if text_k is None else text_k
        if not _search.searchable(filters, max(top_k, text_k)):
            return []
        terms = _search.query_terms(query_tokens)
        scope: TextScope | None = None
        text: list[_search.Hit] = []
        if terms:  # before the vector is asked for: a question's embedding may be running
            try:
                scope = self._text.scope(terms, filters)
                if text_k > 0:
                    text = scope.search(text_k, filters.document_ids, filters.available_only)
            except (sqlite3.Error, ValueError) as error:
                raise ChunkStoreError(f"text search failed: {error}") from error
        checked: _search.Passing = {}
        if text and callable(vector):  # the text hits' rows checked while the vector comes
            with self._read() as conn:
                checked.update(_search.passing(conn, [row_id for row_id, _ in text], filters))
        if callable(vector):
            vector = vector()
        query = None if vector is None else query_vector(vector)
        nearest = (
            [] if query is None or top_k <= 0 else self._nearest(query, filters, top_k, checked)
        )
        bm25: dict[int, float] = dict(text)
        bound = 0.0
        if scope is not None:
            try:
                vector_only = [row_id for row_id, _ in nearest if row_id not in bm25]
                bm25.update(scope.scores(vector_only))
                bound = scope.bound()
            except (sqlite3.Error, ValueError) as error:
                raise ChunkStoreError(f"text search failed: {error}") from error
        row_ids = list(dict.fromkeys([row_id for row_id, _ in text] + [r for r, _ in nearest]))
        cosines = dict(nearest)
        missing = numpy.asarray([r for r in row_ids if r not in cosines], dtype=numpy.int64)
        if query is not None and len(missing):
            for dataset_id in dict.fromkeys(filters.dataset_ids):
                cosines.update(self._vectors.cosines(dataset_id, query, missing))
        with self._read() as conn:
            return _search.candidates(conn, filters, row_ids, bm25, bound, cosines, checked)

    def get(self, chunk_ids: Sequence[str], tenant_ids: Sequence[str]) -> list[ChunkRecord]:
        if not chunk_ids or not tenant_ids:
            return []
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM chunk WHERE id IN (SELECT value FROM json_each(?)) "  # noqa: S608
                f"AND tenant_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(chunk_ids)), json.dumps(list(tenant_ids))),
            ).fetchall()
        by_id = {row[0]: row for row in rows}
        return [from_row(by_id[key]) for key in dict.fromkeys(chunk_ids) if key in by_id]

    def list_document_chunks(
        self,
        document_id: str,
        *,
        terms: Sequence[str] | None = None,
        chunk_id: str | None = None,
        offset: int = 0,
        limit: int = 30,
    ) -> tuple[list[ChunkRecord], int]:
        where, params = "document_id = ?", [document_id]
        if chunk_id is not None:
            where += " AND id = ?"
            params.append(chunk_id)
        if terms is not None:
            match = _search.match_expression(_search.query_terms(terms))
            if match is None:
                return [], 0
            where += " AND row_id IN (SELECT rowid FROM chunk_fts WHERE chunk_fts MATCH ?)"
            params.append(match)
        with self._read() as conn:
            total: int = conn.execute(
                f"SELECT count(*) FROM chunk WHERE {where}",  # noqa: S608
                params,
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM chunk WHERE {where} "  # noqa: S608
                f"ORDER BY chunk_order, row_id LIMIT ? OFFSET ?",
                [*params, max(limit, 0), max(offset, 0)],
            ).fetchall()
        return [from_row(row) for row in rows], total

    def update(self, chunk: ChunkRecord) -> None:
        with self._write() as conn:
            found = conn.execute(
                "SELECT row_id, tenant_id, dataset_id, document_id FROM chunk WHERE id = ?",
                (chunk.id,),
            ).fetchone()
            if found is None:
                raise ChunkNotFound(f"no chunk has the id {chunk.id}")
            if tuple(found[1:]) != (chunk.tenant_id, chunk.dataset_id, chunk.document_id):
                raise ChunkStoreError(
                    f"chunk {chunk.id} cannot move to another tenant, dataset or document"
                )
            blob = vector_blob(chunk)
            if blob is not None:
                _check_dimension(conn, chunk.dataset_id, len(blob), exclude_row=found[0])
            conn.execute(UPDATE, to_update_params(chunk, found[0]))
        self._refresh([chunk.dataset_id])

    def replace_vectors(
        self,
        dataset_id: str,
        vectors: Mapping[str, numpy.ndarray],
        expected: Mapping[str, str],
    ) -> None:
        """Every row's vector updated in one write transaction; each update is logged, so the
        indexes replay them (and rebuild when the dimension changed)."""
        blobs = new_vectors(vectors, expected)
        with self._write() as conn:
            stored = conn.execute(
                "SELECT row_id, id, vector FROM chunk INDEXED BY chunk_dataset_vector "
                "WHERE dataset_id = ? AND vector IS NOT NULL",
                (dataset_id,),
            ).fetchall()
            check_unchanged(dataset_id, {row[1]: row[2] for row in stored}, expected)
            conn.executemany(
                "UPDATE chunk SET vector = ? WHERE row_id = ?",
                [(blobs[row[1]], row[0]) for row in stored],
            )
        self._refresh([dataset_id])

    def set_available(self, document_id: str, available: bool) -> int:
        with self._write() as conn:
            conn.execute(
                "UPDATE chunk SET available = ? WHERE document_id = ? AND available != ?",
                (int(available), document_id, int(available)),
            )
            count: int = conn.execute(
                "SELECT count(*) FROM chunk WHERE document_id = ?", (document_id,)
            ).fetchone()[0]
        return count

    def rename_document(self, document_id: str, name: str, title_tokens: str) -> int:
        with self._write() as conn:
            renamed = conn.execute(
                "UPDATE chunk SET document_name = ?, title_tokens = ? WHERE document_id = ?",
                (name, title_tokens, document_id),
            )
        return renamed.rowcount

    def delete(self, chunk_ids: Sequence[str]) -> int:
        if not chunk_ids:
            return 0
        return self._delete("id IN (SELECT value FROM json_each(?))", json.dumps(list(chunk_ids)))

    def delete_document(self, document_id: str) -> int:
        return self._delete("document_id = ?", document_id)

    def delete_dataset(self, dataset_id: str) -> int:
        """Delete the dataset's chunks, replace its vector log entries by one ``clear`` marker
        and its text log entries by one ``drop`` marker, and remove its index file."""
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM chunk WHERE dataset_id = ?", (dataset_id,))
            count = deleted.rowcount
            conn.execute("DELETE FROM vector_log WHERE dataset_id = ?", (dataset_id,))
            conn.execute(
                "INSERT INTO vector_log (dataset_id, chunk_row, op) VALUES (?, 0, 'clear')",
                (dataset_id,),
            )
            conn.execute("DELETE FROM vector_index_state WHERE dataset_id = ?", (dataset_id,))
            conn.execute("DELETE FROM text_log WHERE dataset_id = ?", (dataset_id,))
            conn.execute(
                "INSERT INTO text_log (dataset_id, chunk_row, op) VALUES (?, 0, 'drop')",
                (dataset_id,),
            )
        try:
            self._vectors.forget(dataset_id)
        except OSError as error:
            logger.warning("could not remove the vector index of dataset %s: %s", dataset_id, error)
        return count

    def counts(
        self, *, document_id: str | None = None, dataset_id: str | None = None
    ) -> ChunkCounts:
        clauses, params = ["1"], []
        if document_id is not None:
            clauses.append("document_id = ?")
            params.append(document_id)
        if dataset_id is not None:
            clauses.append("dataset_id = ?")
            params.append(dataset_id)
        with self._read() as conn:
            chunks, tokens = conn.execute(
                f"SELECT count(*), coalesce(sum(token_count), 0) FROM chunk "  # noqa: S608
                f"WHERE {' AND '.join(clauses)}",
                params,
            ).fetchone()
        return ChunkCounts(chunks=chunks, tokens=tokens)

    def check(self) -> None:
        with self._read() as conn:
            conn.execute("SELECT count(*) FROM (SELECT 1 FROM chunk LIMIT 1)").fetchone()
            conn.execute("SELECT count(*) FROM chunk_fts WHERE chunk_fts MATCH 'x'").fetchone()
        if not os.access(self._vector_dir, os.W_OK):
            raise ChunkStoreError(f"the vector index directory {self._vector_dir} is read-only")

    def close(self) -> None:
        """Save changed vector indexes, run ``PRAGMA optimize`` and close every connection."""
        if self._closed:
            return
        vectors: VectorIndexes | None = getattr(self, "_vectors", None)
        try:
            if vectors is not None:
                vectors.save_all()
                vectors.clear()
            text: TextIndex | None = getattr(self, "_text", None)
            if text is not None:
                text.close()
            self._conn().execute("PRAGMA optimize")
        except (ChunkStoreError, sqlite3.Error):
            pass  # saving the cache and optimising are courtesies; closing must not fail
        finally:
            with self._lock:
                self._closed = True
                connections, self._connections = self._connections, []
            for conn in connections:
                conn.close()

    def save_vector_indexes(self) -> None:
        """Save the vector indexes this process changed (also done by ``close``)."""
        self._vectors.save_all()

    def _text_hits(self, terms: list[str], filters: ChunkFilter, top_k: int) -> list[_search.Hit]:
        """The best ``top_k`` rows of the filter's tenants and datasets by BM25 over their
        own term statistics, of its documents and available when it says so."""
        try:
            scope = self._text.scope(terms, filters)
            return scope.search(top_k, filters.document_ids, filters.available_only)
        except (sqlite3.Error, ValueError) as error:
            raise ChunkStoreError(f"text search failed: {error}") from error

    def _nearest(
        self,
        query: numpy.ndarray,
        filters: ChunkFilter,
        top_k: int,
        checked: _search.Passing,
    ) -> list[_search.Hit]:
        """The ``top_k`` best vector hits over all datasets of the filter; the rows found to
        pass it are added to ``checked``."""
        hits: list[_search.Hit] = []
        try:
            for dataset_id in dict.fromkeys(filters.dataset_ids):
                hits.extend(self._vector_hits(dataset_id, query, filters, top_k, checked))
        except sqlite3.Error as error:
            raise ChunkStoreError(f"vector search failed: {error}") from error
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:top_k]

    def _vector_hits(
        self,
        dataset_id: str,
        query: numpy.ndarray,
        filters: ChunkFilter,
        top_k: int,
        checked: _search.Passing,
    ) -> list[_search.Hit]:
        """The dataset's best hits: the nearest vectors (by the graph, or exactly among the
        filter's documents) that pass the filter, asked again for more when too few pass, and
        then every passing row scanned exactly."""
        conn = self._conn()
        for count in (top_k + MARGIN, WIDEN * (top_k + MARGIN)):
            if filters.document_ids is not None:
                neighbours = self._vectors.nearest_in_documents(
                    dataset_id, query, filters.document_ids, count
                )
            else:
                neighbours = self._vectors.search(dataset_id, query, count)
            if neighbours is None:
                return []
            allowed = _search.passing(conn, neighbours.row_ids, filters)
            checked.update(allowed)
            hits = [
                (row_id, score)
                for row_id, score in zip(neighbours.row_ids, neighbours.scores, strict=True)
                if row_id in allowed
            ][:top_k]
            if len(hits) >= top_k or neighbours.exhaustive:
                return hits
        rows = _search.filtered_rows(conn, dataset_id, filters)
        return self._vectors.nearest_among(dataset_id, query, rows, top_k)

    def _refresh(self, dataset_ids: Iterable[str]) -> None:
        """Bring this process's indexes up to date after a committed write; a failure only
        logs, since the next search catches up anyway."""
        try:
            self._vectors.refresh(dataset_ids)
        except (ChunkStoreError, sqlite3.Error) as error:
            logger.warning("could not update the vector indexes after a write: %s", error)

    def _delete(self, where: str, parameter: str) -> int:
        with self._write() as conn:
            deleted = conn.execute(
                f"DELETE FROM chunk WHERE {where} RETURNING dataset_id",  # noqa: S608
                (parameter,),
            ).fetchall()
        self._refresh(row[0] for row in deleted)
        return len(deleted)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise ChunkStoreError("the chunk store is closed")
                conn = connect(self._path)
                self._connections.append(conn)
            self._local.conn = conn
        elif self._closed:
            raise ChunkStoreError("the chunk store is closed")
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise ChunkStoreError(f"chunk store read failed: {error}") from error

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, rolled back if the block raises."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise ChunkStoreError(f"chunk store write failed: {error}") from error


def _insert(
    conn: sqlite3.Connection, chunks: Sequence[ChunkRecord], rows: list[tuple[object, ...]]
) -> None:
    """Insert rows inside the caller's write transaction after checking ids and dimensions."""
    ids = [chunk.id for chunk in chunks]
    repeated = sorted(key for key, times in Counter(ids).items() if times > 1)
    if repeated:
        raise ChunkStoreError(f"chunk ids repeated in one write: {repeated[:5]}")
    stored = conn.execute(
        "SELECT id FROM chunk WHERE id IN (SELECT value FROM json_each(?)) LIMIT 5",
        (json.dumps(ids),),
    ).fetchall()
    if stored:
        raise ChunkStoreError(f"chunk ids already stored: {[row[0] for row in stored]}")
    widths: dict[str, int] = {}
    for chunk, row in zip(chunks, rows, strict=True):
        blob = row[-1]
        if isinstance(blob, bytes) and widths.setdefault(chunk.dataset_id, len(blob)) != len(blob):
            raise ChunkStoreError(f"vectors of dataset {chunk.dataset_id} differ in size")
    for dataset_id, width in widths.items():
        _check_dimension(conn, dataset_id, width)
    conn.executemany(INSERT, rows)


def _check_dimension(
    conn: sqlite3.Connection, dataset_id: str, width: int, exclude_row: int = 0
) -> None:
    """Raise ChunkStoreError if the dataset holds vectors of another byte ``width``."""
    found = conn.execute(
        "SELECT length(vector) FROM chunk INDEXED BY chunk_dataset_vector "
        "WHERE dataset_id = ? AND vector IS NOT NULL AND row_id != ? LIMIT 1",
        (dataset_id, exclude_row),
    ).fetchone()
    if found is not None and found[0] != width:
        raise ChunkStoreError(
            f"dataset {dataset_id} holds {found[0] // 4}-d vectors, not {width // 4}-d"
        )
