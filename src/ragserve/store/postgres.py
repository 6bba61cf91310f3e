"""The shared chunk store: PostgreSQL with pgvector, for several servers and workers at once.

Everything lives in the database, so every process sees every committed write at once and
there is nothing to rebuild: the records, their vectors with one HNSW index per dimension
(``_pg_schema``) and BM25 postings with per-partition term statistics (``_pg_text``). Each
write is one transaction; writers first take an advisory lock per dataset they touch (in
order), which keeps each dataset's counters and vector dimension consistent. Reads are
``REPEATABLE READ`` snapshots. Within a process the store is thread safe: each thread gets its
own connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy
import psycopg

from ragserve.store import _pg_text, _pg_vectors
from ragserve.store._pg_schema import (
    Vector,
    connect,
    ensure_schema,
    ensure_vector_index,
    query_expression,
    vector_expression,
)
from ragserve.store._pg_text import Indexed, TextScope, row_terms
from ragserve.store._rows import (
    COLUMNS,
    from_row,
    new_vectors,
    query_vector,
    to_row,
)
from ragserve.store._search import MAX_TERM_SIMILARITY, query_terms, searchable
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

EXACT_BELOW = 4096
"""A document filter over fewer chunks than this is searched exactly (through the document
index), not through the HNSW graph, which would walk past most of the dataset to find them."""
EF_SEARCH_MIN = 40
EF_SEARCH_MAX = 1000
"""pgvector's default and largest ``hnsw.ef_search``; a search asks for at least ``top_k``."""

Conn = psycopg.Connection[Any]
Hit = tuple[int, float]

_INSERT = (
    f"INSERT INTO chunk (row_id, {COLUMNS}, dim, part_id, length) "  # noqa: S608
    f"OVERRIDING SYSTEM VALUE VALUES ({', '.join(['%s'] * 19)}, %b, %s, %s, %s)"
)
_REMOVED = (
    "row_id, part_id, available, content_tokens, title_tokens, keyword_tokens, dataset_id, dim"
)
"""What unindexing a row needs (``_indexed``)."""


class PgChunkStore:
    """A ``ChunkStore`` in the PostgreSQL database at ``url`` (it needs pgvector)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._local = threading.local()
        self._connections: list[Conn] = []
        self._lock = threading.Lock()
        self._closed = False
        self._indexed_dims: set[int] = set()
        try:
            ensure_schema(self._conn())
        except psycopg.Error as error:
            self.close()
            raise ChunkStoreError(f"cannot open the chunk store database: {error}") from error
        except ChunkStoreError:
            self.close()
            raise

    def insert(self, chunks: Sequence[ChunkRecord]) -> None:
        if not chunks:
            return
        rows = [to_row(chunk) for chunk in chunks]
        self._index_dimensions(rows)
        with self._write([chunk.dataset_id for chunk in chunks]) as conn:
            _insert(conn, chunks, rows)

    def replace_document(self, document_id: str, chunks: Sequence[ChunkRecord]) -> None:
        strangers = [chunk.id for chunk in chunks if chunk.document_id != document_id]
        if strangers:
            raise ChunkStoreError(f"chunks {strangers[:5]} are not of document {document_id}")
        rows = [to_row(chunk) for chunk in chunks]
        self._index_dimensions(rows)
        datasets = self._datasets("document_id = %s", document_id)
        with self._write([*datasets, *(chunk.dataset_id for chunk in chunks)]) as conn:
            _delete(conn, "document_id = %s", document_id)
            _insert(conn, chunks, rows)

    def search_text(
        self, query_tokens: Sequence[str], filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        terms = query_terms(query_tokens)
        if not terms or not searchable(filters, top_k):
            return []
        with self._read() as conn:
            hits = TextScope(conn, terms, filters).search(conn, top_k, filters)
            return _fetch(conn, hits, filters)

    def search_vector(
        self, vector: numpy.ndarray, filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        query = query_vector(vector)
        if not searchable(filters, top_k):
            return []
        with self._read() as conn:
            return _fetch(conn, _nearest(conn, query, filters, top_k), filters)

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
        if not searchable(filters, max(top_k, text_k)):
            return []
        terms = query_terms(query_tokens)
        with self._read() as conn:
            text: list[Hit] = []
            bm25: dict[int, float] = {}
            bound = 0.0
            scope = TextScope(conn, terms, filters) if terms else None
            if scope is not None:
                text = scope.search(conn, text_k, filters)
                bm25 = dict(text)
            # the question's embedding may have been computed meanwhile (``QueryVector``)
            resolved = vector() if callable(vector) else vector
            query = None if resolved is None else query_vector(resolved)
            nearest = [] if query is None or top_k <= 0 else _nearest(conn, query, filters, top_k)
            if scope is not None:
                vector_only = [row_id for row_id, _ in nearest if row_id not in bm25]
                if vector_only:
                    bm25.update(scope.search(conn, len(vector_only), filters, vector_only))
                bound = scope.bound()
            row_ids = list(dict.fromkeys([r for r, _ in text] + [r for r, _ in nearest]))
            rows = _candidate_rows(conn, row_ids, filters, query)
        cosines = dict(nearest)
        found = []
        for row_id in row_ids:
            if row_id not in rows:
                continue
            chunk, document, name, cosine = rows[row_id]
            term = min(bm25.get(row_id, 0.0) / bound, MAX_TERM_SIMILARITY) if bound else 0.0
            similarity = cosines.get(row_id, cosine)
            found.append(Candidate(chunk, document, term, similarity, name))
        return found

    def get(self, chunk_ids: Sequence[str], tenant_ids: Sequence[str]) -> list[ChunkRecord]:
        if not chunk_ids or not tenant_ids:
            return []
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM chunk WHERE id = ANY(%s) AND tenant_id = ANY(%s)",  # noqa: S608
                (list(chunk_ids), list(tenant_ids)),
                binary=True,
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
        where, params = "c.document_id = %s", list[Any]([document_id])
        if chunk_id is not None:
            where += " AND c.id = %s"
            params.append(chunk_id)
        if terms is not None:
            wanted = query_terms(terms)
            if not wanted:
                return [], 0
            where += (
                " AND EXISTS (SELECT 1 FROM chunk_posting p "
                "WHERE p.row_id = c.row_id AND p.term = ANY(%s))"
            )
            params.append(wanted)
        columns = ", ".join(f"c.{column.strip()}" for column in COLUMNS.split(","))
        with self._read() as conn:
            counted = conn.execute(
                f"SELECT count(*) FROM chunk c WHERE {where}",  # noqa: S608
                params,
            ).fetchone()
            rows = conn.execute(
                f"SELECT {columns} FROM chunk c WHERE {where} "  # noqa: S608
                f"ORDER BY c.chunk_order, c.row_id LIMIT %s OFFSET %s",
                [*params, max(limit, 0), max(offset, 0)],
                binary=True,
            ).fetchall()
        total = 0 if counted is None else int(counted[0])
        return [from_row(row) for row in rows], total

    def update(self, chunk: ChunkRecord) -> None:
        row = to_row(chunk)
        self._index_dimensions([row])
        with self._write([chunk.dataset_id]) as conn:
            found = conn.execute(
                f"SELECT {_REMOVED}, tenant_id, document_id FROM chunk WHERE id = %s FOR UPDATE",  # noqa: S608
                (chunk.id,),
            ).fetchone()
            if found is None:
                raise ChunkNotFound(f"no chunk has the id {chunk.id}")
            if (found[8], found[6], found[9]) != (
                chunk.tenant_id,
                chunk.dataset_id,
                chunk.document_id,
            ):
                raise ChunkStoreError(
                    f"chunk {chunk.id} cannot move to another tenant, dataset or document"
                )
            old = _indexed(found)
            _pg_text.remove(conn, [old])
            _count_vectors(conn, [(chunk.dataset_id, found[7], -1)])
            conn.execute("DELETE FROM chunk WHERE row_id = %s", (old.row_id,))
            _write_rows(conn, [chunk], [row], [old.row_id])

    def replace_vectors(
        self,
        dataset_id: str,
        vectors: Mapping[str, numpy.ndarray],
        expected: Mapping[str, str],
    ) -> None:
        """Every row's vector and ``dim`` updated in one transaction under the dataset's lock,
        its ``chunk_dataset`` dimension with them; the new dimension's index exists first."""
        blobs = new_vectors(vectors, expected)
        self._index_dimensions([(blob,) for blob in list(blobs.values())[:1]])
        with self._write([dataset_id]) as conn:
            _pg_vectors.replace(conn, dataset_id, blobs, expected)

    def set_available(self, document_id: str, available: bool) -> int:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE chunk SET available = %s WHERE document_id = %s AND available != %s",
                (available, document_id, available),
            )
            _pg_text.set_available(conn, document_id, available)
            counted = conn.execute(
                "SELECT count(*) FROM chunk WHERE document_id = %s", (document_id,)
            ).fetchone()
        return 0 if counted is None else int(counted[0])

    def rename_document(self, document_id: str, name: str, title_tokens: str) -> int:
        datasets = self._datasets("document_id = %s", document_id)
        with self._write(datasets) as conn:
            found = conn.execute(
                f"SELECT {_REMOVED} FROM chunk WHERE document_id = %s FOR UPDATE",  # noqa: S608
                (document_id,),
            ).fetchall()
            old = [_indexed(row) for row in found]
            _pg_text.remove(conn, old)
            conn.execute(
                "UPDATE chunk SET document_name = %s, title_tokens = %s WHERE document_id = %s",
                (name, title_tokens, document_id),
            )
            _pg_text.add(conn, [_indexed((*row[:4], title_tokens, *row[5:])) for row in found])
        return len(found)

    def delete(self, chunk_ids: Sequence[str]) -> int:
        if not chunk_ids:
            return 0
        keys = list(chunk_ids)
        with self._write(self._datasets("id = ANY(%s)", keys)) as conn:
            return _delete(conn, "id = ANY(%s)", keys)

    def delete_document(self, document_id: str) -> int:
        with self._write(self._datasets("document_id = %s", document_id)) as conn:
            return _delete(conn, "document_id = %s", document_id)

    def delete_dataset(self, dataset_id: str) -> int:
        with self._write([dataset_id]) as conn:
            deleted = conn.execute("DELETE FROM chunk WHERE dataset_id = %s", (dataset_id,))
            parts = "SELECT part_id FROM chunk_partition WHERE dataset_id = %s"
            conn.execute(f"DELETE FROM chunk_posting WHERE part_id IN ({parts})", (dataset_id,))  # noqa: S608
            conn.execute(f"DELETE FROM chunk_term_stat WHERE part_id IN ({parts})", (dataset_id,))  # noqa: S608
            conn.execute("DELETE FROM chunk_partition WHERE dataset_id = %s", (dataset_id,))
            conn.execute("DELETE FROM chunk_dataset WHERE dataset_id = %s", (dataset_id,))
        return deleted.rowcount

    def counts(
        self, *, document_id: str | None = None, dataset_id: str | None = None
    ) -> ChunkCounts:
        clauses, params = ["true"], []
        if document_id is not None:
            clauses.append("document_id = %s")
            params.append(document_id)
        if dataset_id is not None:
            clauses.append("dataset_id = %s")
            params.append(dataset_id)
        with self._read() as conn:
            found = conn.execute(
                f"SELECT count(*), coalesce(sum(token_count), 0) FROM chunk "  # noqa: S608
                f"WHERE {' AND '.join(clauses)}",
                params,
            ).fetchone()
        assert found is not None
        return ChunkCounts(chunks=int(found[0]), tokens=int(found[1]))

    def check(self) -> None:
        with self._read() as conn:
            conn.execute("SELECT count(*) FROM (SELECT 1 FROM chunk LIMIT 1) AS one").fetchone()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _index_dimensions(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Create the HNSW indexes of the rows' vector dimensions that this process has not
        seen yet (before the write: an index build takes a lock writers wait for)."""
        for blob in {row[-1] for row in rows if isinstance(row[-1], bytes)}:
            dim = len(blob) // 4
            if dim not in self._indexed_dims:
                try:
                    ensure_vector_index(self._conn(), dim)
                except psycopg.Error as error:
                    raise ChunkStoreError(f"cannot create a vector index: {error}") from error
                self._indexed_dims.add(dim)

    def _datasets(self, where: str, value: Any) -> list[str]:
        """The datasets of the chunks matching ``where`` (before a write locks them)."""
        with self._read() as conn:
            found = conn.execute(
                f"SELECT DISTINCT dataset_id FROM chunk WHERE {where}",  # noqa: S608
                (value,),
            ).fetchall()
        return [row[0] for row in found]

    def _conn(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if self._closed:
            raise ChunkStoreError("the chunk store is closed")
        if conn is None or conn.closed or conn.broken:
            conn = connect(self._url)
            with self._lock:
                if self._closed:
                    conn.close()
                    raise ChunkStoreError("the chunk store is closed")
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Conn]:
        conn = self._conn()
        try:
            with conn.transaction():
                yield conn
        except psycopg.Error as error:
            raise ChunkStoreError(f"chunk store write failed: {error}") from error

    @contextmanager
    def _write(self, dataset_ids: Sequence[str]) -> Iterator[Conn]:
        """A write transaction holding the datasets' advisory locks, rolled back if the block
        raises."""
        with self._transaction() as conn:
            for dataset_id in sorted(set(dataset_ids)):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"ragserve.chunk_dataset:{dataset_id}",),
                )
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        """A read-only transaction on one snapshot."""
        conn = self._conn()
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn
        except psycopg.Error as error:
            raise ChunkStoreError(f"chunk store read failed: {error}") from error


def _insert(conn: Conn, chunks: Sequence[ChunkRecord], rows: list[tuple[Any, ...]]) -> None:
    """Insert the chunks inside the caller's write transaction after checking ids and
    dimensions."""
    keys = [chunk.id for chunk in chunks]
    repeated = sorted(key for key, times in Counter(keys).items() if times > 1)
    if repeated:
        raise ChunkStoreError(f"chunk ids repeated in one write: {repeated[:5]}")
    if not chunks:
        return
    stored = conn.execute("SELECT id FROM chunk WHERE id = ANY(%s) LIMIT 5", (keys,)).fetchall()
    if stored:
        raise ChunkStoreError(f"chunk ids already stored: {[row[0] for row in stored]}")
    found = conn.execute(
        "SELECT nextval(pg_get_serial_sequence('chunk', 'row_id')) FROM generate_series(1, %s)",
        (len(chunks),),
    ).fetchall()
    _write_rows(conn, chunks, rows, [int(row[0]) for row in found])


def _write_rows(
    conn: Conn, chunks: Sequence[ChunkRecord], rows: list[tuple[Any, ...]], row_ids: list[int]
) -> None:
    """Store the chunks at these row ids, with their vectors counted and their text indexed."""
    vectors = [
        (chunk.dataset_id, len(row[-1]) // 4, 1)
        for chunk, row in zip(chunks, rows, strict=True)
        if isinstance(row[-1], bytes)
    ]
    _count_vectors(conn, vectors)
    parts = {
        key: _pg_text.partition(conn, *key)
        for key in sorted({(chunk.tenant_id, chunk.dataset_id) for chunk in chunks})
    }
    indexed, values = [], []
    for chunk, row, row_id in zip(chunks, rows, row_ids, strict=True):
        part_id = parts[(chunk.tenant_id, chunk.dataset_id)]
        terms, length = row_terms(chunk.content_tokens, chunk.title_tokens, chunk.keyword_tokens)
        indexed.append(Indexed(row_id, part_id, bool(chunk.available), terms, length))
        blob = row[-1]
        vector = None if blob is None else Vector(numpy.frombuffer(blob, dtype=numpy.float32))
        dim = None if blob is None else len(blob) // 4
        values.append((row_id, *row[:13], bool(row[13]), *row[14:18], vector, dim, part_id, length))
    with conn.cursor() as cursor:
        cursor.executemany(_INSERT, values)
    _pg_text.add(conn, indexed)


def _count_vectors(conn: Conn, changes: Sequence[tuple[str, int | None, int]]) -> None:
    """Count vectors ``(dataset, dimension, +1 or -1)`` in and out of their datasets, raising
    ChunkStoreError when a dataset would hold two dimensions."""
    changes = [change for change in changes if change[1] is not None]
    if not changes:
        return
    datasets = sorted({dataset for dataset, _, _ in changes})
    found = conn.execute(
        "SELECT dataset_id, dim, vectors FROM chunk_dataset WHERE dataset_id = ANY(%s)",
        (datasets,),
    ).fetchall()
    state = {row[0]: (row[1], int(row[2])) for row in found}
    for dataset, dim, step in changes:
        held, count = state.get(dataset, (None, 0))
        if step > 0 and count > 0 and held != dim:
            raise ChunkStoreError(f"dataset {dataset} holds {held}-d vectors, not {dim}-d")
        count += step
        state[dataset] = (dim if count > 0 else None, count)
    for dataset in datasets:
        dim, count = state[dataset]
        conn.execute(
            "INSERT INTO chunk_dataset (dataset_id, dim, vectors) VALUES (%s, %s, %s) "
            "ON CONFLICT (dataset_id) DO UPDATE SET dim = excluded.dim, vectors = excluded.vectors",
            (dataset, dim, count),
        )


def _indexed(row: Sequence[Any]) -> Indexed:
    """The text index's view of a row selected as ``_REMOVED``."""
    terms, length = row_terms(row[3], row[4], row[5])
    return Indexed(int(row[0]), int(row[1]), bool(row[2]), terms, length)


def _delete(conn: Conn, where: str, value: Any) -> int:
    """Delete the chunks matching ``where`` with their postings, statistics and vector counts."""
    found = conn.execute(
        f"DELETE FROM chunk WHERE {where} RETURNING {_REMOVED}",  # noqa: S608
        (value,),
    ).fetchall()
    _pg_text.remove(conn, [_indexed(row) for row in found])
    _count_vectors(conn, [(row[6], row[7], -1) for row in found])
    return len(found)


def _filter(filters: ChunkFilter, params: dict[str, Any]) -> str:
    """SQL conditions on ``chunk`` columns for the filter, its values put in ``params``."""
    params["datasets"] = list(filters.dataset_ids)
    params["tenants"] = list(filters.tenant_ids)
    clauses = ["dataset_id = ANY(%(datasets)s)", "tenant_id = ANY(%(tenants)s)"]
    if filters.available_only:
        clauses.append("available")
    if filters.document_ids is not None:
        clauses.append("document_id = ANY(%(documents)s)")
        params["documents"] = list(filters.document_ids)
    return " AND ".join(clauses)


def _nearest(conn: Conn, query: numpy.ndarray, filters: ChunkFilter, top_k: int) -> list[Hit]:
    """The ``top_k`` chunks passing the filter nearest to the unit ``query``, by the HNSW index
    of its dimension (iterative scans keep filtered searches from falling short), or exactly
    among few documents' chunks; the scores are exact cosine similarities, also where the index
    holds half-precision vectors."""
    found = conn.execute(
        "SELECT DISTINCT dim FROM chunk_dataset WHERE dataset_id = ANY(%s) AND vectors > 0",
        (list(filters.dataset_ids),),
    ).fetchall()
    dims = {int(row[0]) for row in found}
    if dims - {query.size}:
        raise ChunkStoreError(
            f"the query vector has {query.size} dimensions, the datasets' vectors {sorted(dims)}"
        )
    if not dims:
        return []
    params: dict[str, Any] = {"query": Vector(query), "top_k": top_k}
    where = _filter(filters, params)
    if _few_chunks(conn, filters.document_ids):
        distance = "vector <=> %(query)b"  # not the indexed expression: an exact scan
    else:
        ef_search = min(max(top_k, EF_SEARCH_MIN), EF_SEARCH_MAX)
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        distance = f"{vector_expression(query.size)} <=> {query_expression(query.size)}"
    hits = conn.execute(
        f"SELECT row_id, score FROM (SELECT row_id, 1 - (vector <=> %(query)b) AS score "  # noqa: S608
        f"FROM chunk WHERE dim = {int(query.size)} AND {where} ORDER BY {distance} "
        f"LIMIT %(top_k)s) AS near ORDER BY score DESC, row_id",
        params,
    ).fetchall()
    return [(int(row_id), float(score)) for row_id, score in hits]


def _few_chunks(conn: Conn, document_ids: Sequence[str] | None) -> bool:
    """Whether these documents (any, when None) hold fewer than ``EXACT_BELOW`` chunks."""
    if document_ids is None:
        return False
    found = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM chunk WHERE document_id = ANY(%s) LIMIT %s) AS few",
        (list(document_ids), EXACT_BELOW),
    ).fetchone()
    return found is not None and int(found[0]) < EXACT_BELOW


def _fetch(conn: Conn, hits: list[Hit], filters: ChunkFilter) -> list[ScoredChunk]:
    """The hits as scored records, in order; rows gone or no longer passing are left out."""
    if not hits:
        return []
    params: dict[str, Any] = {"rows": [row_id for row_id, _ in hits]}
    where = _filter(filters, params)
    rows = conn.execute(
        f"SELECT row_id, {COLUMNS} FROM chunk WHERE row_id = ANY(%(rows)s) AND {where}",  # noqa: S608
        params,
        binary=True,
    ).fetchall()
    by_row = {row[0]: row for row in rows}
    return [
        ScoredChunk(from_row(by_row[row_id][1:]), score)
        for row_id, score in hits
        if row_id in by_row
    ]


def _candidate_rows(
    conn: Conn, row_ids: list[int], filters: ChunkFilter, query: numpy.ndarray | None
) -> dict[int, tuple[str, str, str, float]]:
    """The rows among ``row_ids`` that pass the filter: chunk id, document id and name, and the
    cosine similarity of the row's vector to ``query`` (0 without either)."""
    if not row_ids:
        return {}
    params: dict[str, Any] = {"rows": row_ids}
    where = _filter(filters, params)
    cosine = "0.0"
    if query is not None:
        params["query"], params["dim"] = Vector(query), query.size
        cosine = "CASE WHEN dim = %(dim)s THEN 1 - (vector <=> %(query)b) ELSE 0.0 END"
    found = conn.execute(
        f"SELECT row_id, id, document_id, document_name, {cosine} FROM chunk "  # noqa: S608
        f"WHERE row_id = ANY(%(rows)s) AND {where}",
        params,
    ).fetchall()
    return {int(row[0]): (row[1], row[2], row[3], float(row[4])) for row in found}
