"""The SQL side of searching: filters, BM25 over FTS5, exact cosine search and row fetching.

Searches first find ``(row_id, score)`` hits, then decode only the rows they return.
SQL text is assembled from fixed fragments only; every value is a bound parameter (hence the
S608 waivers).
"""

from __future__ import annotations

import heapq
import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy

from ragserve.store._rows import COLUMNS, from_row
from ragserve.store._schema import is_token_text
from ragserve.store.base import Candidate, ChunkFilter, ChunkStoreError, ScoredChunk

CONTENT_WEIGHT = 1.0
TITLE_WEIGHT = 2.0
KEYWORD_WEIGHT = 5.0
"""BM25 column weights: keywords and questions count most, the title more than the body."""
BM25_K1 = 1.2
"""FTS5's fixed BM25 ``k1``: one term contributes at most ``(k1 + 1) * idf``."""
MIN_IDF = 1e-6
"""FTS5 raises the IDF of terms in more than half of all rows to this."""
COMMON_TERM_ROWS = 4096
"""Query terms in more chunks than this are common: see ``text_hits``."""
EXACT_BATCH_ROWS = 8192

Hit = tuple[int, float]
"""A chunk row id and its score."""


def searchable(filters: ChunkFilter, top_k: int) -> bool:
    """Whether the filter can match anything at all."""
    return (
        top_k > 0
        and bool(filters.tenant_ids)
        and bool(filters.dataset_ids)
        and (filters.document_ids is None or bool(filters.document_ids))
    )


def filter_clause(
    filters: ChunkFilter, alias: str = "", dataset_id: str | None = None
) -> tuple[str, list[Any]]:
    """SQL conditions (joined by AND) on ``chunk`` columns and their parameters; with
    ``dataset_id``, for that one dataset (which the caller checked is in the filter)."""
    if dataset_id is None:
        clauses = [f"{alias}dataset_id IN (SELECT value FROM json_each(?))"]  # noqa: S608
        params: list[Any] = [json.dumps(list(filters.dataset_ids))]
    else:
        clauses, params = [f"{alias}dataset_id = ?"], [dataset_id]
    clauses.append(f"{alias}tenant_id IN (SELECT value FROM json_each(?))")  # noqa: S608
    params.append(json.dumps(list(filters.tenant_ids)))
    if filters.available_only:
        clauses.append(f"{alias}available = 1")
    if filters.document_ids is not None:
        clauses.append(f"{alias}document_id IN (SELECT value FROM json_each(?))")  # noqa: S608
        params.append(json.dumps(list(filters.document_ids)))
    return " AND ".join(clauses), params


def query_terms(query_tokens: Sequence[str]) -> list[str]:
    """The distinct terms of the query that the FTS tokenizer keeps, in order."""
    return list(
        dict.fromkeys(
            term for token in query_tokens for term in token.split() if is_token_text(term)
        )
    )


def text_hits(
    conn: sqlite3.Connection, terms: list[str], filters: ChunkFilter, top_k: int
) -> list[Hit]:
    """The best ``top_k`` rows matching any term, by weighted BM25 (negated: higher is better).

    Scoring costs about a microsecond per matching row, so a query mixing selective terms
    with common ones (each in more than ``COMMON_TERM_ROWS`` chunks, low IDF) is first
    answered from the selective terms alone; only if that finds fewer than ``top_k`` chunks
    are all terms scored."""
    if len(terms) > 1:
        selective = [term for term in terms if _rows_matching(conn, term) <= COMMON_TERM_ROWS]
        if selective and len(selective) < len(terms):
            hits = _ranked(conn, selective, filters, top_k)
            if len(hits) >= top_k:
                return hits
    return _ranked(conn, terms, filters, top_k)


def _ranked(
    conn: sqlite3.Connection, terms: list[str], filters: ChunkFilter, top_k: int
) -> list[Hit]:
    where, params = filter_clause(filters, "c.")
    rows: list[Hit] = conn.execute(
        f"SELECT chunk_fts.rowid, "  # noqa: S608
        f"-bm25(chunk_fts, {CONTENT_WEIGHT}, {TITLE_WEIGHT}, {KEYWORD_WEIGHT}) AS score "
        f"FROM chunk_fts CROSS JOIN chunk AS c ON c.row_id = chunk_fts.rowid "
        f"WHERE chunk_fts MATCH ? AND {where} "
        f"ORDER BY score DESC, chunk_fts.rowid LIMIT ?",
        [" OR ".join(_quoted(term) for term in terms), *params, top_k],
    ).fetchall()
    return rows


def _rows_matching(conn: sqlite3.Connection, term: str) -> int:
    """How many chunks hold the term, counting no further than ``COMMON_TERM_ROWS + 1``."""
    count: int = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM chunk_fts WHERE chunk_fts MATCH ? LIMIT ?)",
        (_quoted(term), COMMON_TERM_ROWS + 1),
    ).fetchone()[0]
    return count


def _quoted(term: str) -> str:
    """The term as an FTS5 string, so that operators and punctuation in it stay literal."""
    return '"' + term.replace('"', '""') + '"'


def count_vectors(conn: sqlite3.Connection, dataset_id: str, filters: ChunkFilter) -> int:
    """How many chunks of the dataset pass the filter and have a vector."""
    where, params = filter_clause(filters, dataset_id=dataset_id)
    count: int = conn.execute(
        f"SELECT count(*) FROM chunk WHERE {where} AND vector IS NOT NULL",  # noqa: S608
        params,
    ).fetchone()[0]
    return count


def exact_hits(
    conn: sqlite3.Connection,
    dataset_id: str,
    filters: ChunkFilter,
    query: numpy.ndarray,
    top_k: int,
) -> list[Hit]:
    """The ``top_k`` chunks of the dataset passing the filter nearest to the unit vector
    ``query``, by exact cosine similarity over the vectors stored in SQLite."""
    where, params = filter_clause(filters, dataset_id=dataset_id)
    cursor = conn.execute(
        f"SELECT row_id, vector FROM chunk WHERE {where} AND vector IS NOT NULL",  # noqa: S608
        params,
    )
    best: list[tuple[float, int]] = []
    width = query.size * 4
    while batch := cursor.fetchmany(EXACT_BATCH_ROWS):
        if any(len(blob) != width for _, blob in batch):
            raise ChunkStoreError(
                f"the query vector has {query.size} dimensions, dataset {dataset_id} "
                f"holds vectors of another size"
            )
        matrix = numpy.frombuffer(b"".join(blob for _, blob in batch), dtype=numpy.float32)
        matrix = matrix.reshape(len(batch), query.size)
        norms = numpy.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        scores = numpy.clip((matrix @ query) / norms, -1.0, 1.0)
        keep = min(top_k, len(batch))
        for position in numpy.argpartition(-scores, keep - 1)[:keep]:
            best.append((float(scores[position]), batch[position][0]))
        best = heapq.nlargest(top_k, best, key=lambda item: (item[0], -item[1]))
    return [(row_id, score) for score, row_id in best]


def passing(conn: sqlite3.Connection, row_ids: list[int], filters: ChunkFilter) -> set[int]:
    """The row ids among ``row_ids`` whose chunks pass the filter."""
    where, params = filter_clause(filters)
    rows = conn.execute(
        f"SELECT row_id FROM chunk WHERE row_id IN (SELECT value FROM json_each(?)) AND {where}",  # noqa: S608
        [json.dumps(row_ids), *params],
    ).fetchall()
    return {row[0] for row in rows}


def fetch(conn: sqlite3.Connection, hits: list[Hit], filters: ChunkFilter) -> list[ScoredChunk]:
    """The hits as scored records, in order; rows gone or no longer passing are left out."""
    if not hits:
        return []
    where, params = filter_clause(filters)
    rows = conn.execute(
        f"SELECT row_id, {COLUMNS} FROM chunk "  # noqa: S608
        f"WHERE row_id IN (SELECT value FROM json_each(?)) AND {where}",
        [json.dumps([row_id for row_id, _ in hits]), *params],
    ).fetchall()
    by_row = {row[0]: row for row in rows}
    return [
        ScoredChunk(from_row(by_row[row_id][1:]), score)
        for row_id, score in hits
        if row_id in by_row
    ]


def candidates(
    conn: sqlite3.Connection,
    terms: list[str],
    query: numpy.ndarray | None,
    text: list[Hit],
    vector: list[Hit],
) -> list[Candidate]:
    """The union of the ``text`` and ``vector`` hits, each scored on both sides: BM25 over its
    bound for the hits that only vector search found, exact cosine for every hit."""
    if not text and not vector:
        return []
    bm25 = dict(text)
    missing = [row_id for row_id, _ in vector if row_id not in bm25]
    if terms and missing:
        bm25.update(_text_scores(conn, terms, missing))
    bound = term_bound(conn, terms) if terms else 0.0
    row_ids = list(dict.fromkeys([row_id for row_id, _ in text] + [r for r, _ in vector]))
    rows = conn.execute(
        "SELECT row_id, id, document_id, vector FROM chunk "
        "WHERE row_id IN (SELECT value FROM json_each(?))",
        (json.dumps(row_ids),),
    ).fetchall()
    cosines = _cosines(query, [row[3] for row in rows])
    return [
        Candidate(
            chunk_id=row[1],
            document_id=row[2],
            term_similarity=bm25.get(row[0], 0.0) / bound if bound else 0.0,
            vector_similarity=cosine,
        )
        for row, cosine in zip(rows, cosines, strict=True)
    ]


def term_bound(conn: sqlite3.Connection, terms: list[str]) -> float:
    """The highest weighted BM25 a row could reach for these terms: ``(k1 + 1) * sum(idf)``,
    with FTS5's IDF ``log((N - n + 0.5) / (n + 0.5))`` (at least ``MIN_IDF``)."""
    rows = conn.execute("SELECT count(*) FROM chunk").fetchone()[0]
    found = dict(
        conn.execute(
            "SELECT term, doc FROM temp.chunk_fts_vocab "
            "WHERE term IN (SELECT value FROM json_each(?))",
            (json.dumps(terms),),
        ).fetchall()
    )
    total = 0.0
    for term in terms:
        hits = found.get(term, 0)
        total += max(MIN_IDF, math.log((rows - hits + 0.5) / (hits + 0.5)))
    return (BM25_K1 + 1.0) * total


def _text_scores(conn: sqlite3.Connection, terms: list[str], row_ids: list[int]) -> list[Hit]:
    """Weighted BM25 of these rows for the terms; rows matching no term are left out."""
    rows: list[Hit] = conn.execute(
        f"SELECT rowid, "  # noqa: S608
        f"-bm25(chunk_fts, {CONTENT_WEIGHT}, {TITLE_WEIGHT}, {KEYWORD_WEIGHT}) "
        f"FROM chunk_fts WHERE chunk_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
        (" OR ".join(_quoted(term) for term in terms), json.dumps(row_ids)),
    ).fetchall()
    return rows


def _cosines(query: numpy.ndarray | None, blobs: list[bytes | None]) -> list[float]:
    """Cosine similarity of each stored vector to the unit ``query``; 0 where either is missing
    or the sizes differ."""
    if query is None:
        return [0.0] * len(blobs)
    width = query.size * 4
    usable = [i for i, blob in enumerate(blobs) if blob is not None and len(blob) == width]
    scores = [0.0] * len(blobs)
    if usable:
        matrix = numpy.frombuffer(b"".join(blobs[i] or b"" for i in usable), dtype=numpy.float32)
        matrix = matrix.reshape(len(usable), query.size)
        norms = numpy.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        for i, score in zip(usable, numpy.clip((matrix @ query) / norms, -1.0, 1.0), strict=True):
            scores[i] = float(score)
    return scores
