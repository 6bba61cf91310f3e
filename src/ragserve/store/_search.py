"""The SQL side of searching: filters, exact cosine search, row fetching and candidate rows.

Searches first find ``(row_id, score)`` hits, then decode only the rows they return.
SQL text is assembled from fixed fragments only; every value is a bound parameter (hence the
S608 waivers).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy

from ragserve.store._rows import COLUMNS, from_row
from ragserve.store._schema import is_token_text
from ragserve.store.base import Candidate, ChunkFilter, ChunkStoreError, ScoredChunk

EXACT_BATCH_ROWS = 8192
MAX_TERM_SIMILARITY = 1.0 - 1e-9
"""BM25 over its bound stays below 1; the index's document count may include deleted rows
that are not merged away yet, which can lift a score a hair past the bound."""

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
    """The distinct terms of the query, lowercased as the text index folds them, in order."""
    return list(
        dict.fromkeys(
            term.lower() for token in query_tokens for term in token.split() if is_token_text(term)
        )
    )


def match_expression(terms: Sequence[str]) -> str | None:
    """An FTS5 query matching any of the terms, each quoted so that operators and punctuation
    stay literal; None for no terms."""
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def exact_hits(
    conn: sqlite3.Connection,
    dataset_id: str,
    filters: ChunkFilter,
    query: numpy.ndarray,
    top_k: int,
    limit: int | None = None,
) -> list[Hit] | None:
    """The ``top_k`` chunks of the dataset passing the filter nearest to the unit vector
    ``query``, by exact cosine similarity over the vectors stored in SQLite; None if more
    than ``limit`` chunks with a vector pass the filter."""
    where, params = filter_clause(filters, dataset_id=dataset_id)
    sql = f"SELECT row_id, vector FROM chunk WHERE {where} AND vector IS NOT NULL"  # noqa: S608
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit + 1)
    cursor = conn.execute(sql, params)
    best_rows = numpy.empty(0, dtype=numpy.int64)
    best_scores = numpy.empty(0, dtype=numpy.float32)
    seen = 0
    width = query.size * 4
    while batch := cursor.fetchmany(EXACT_BATCH_ROWS):
        seen += len(batch)
        if limit is not None and seen > limit:
            return None
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
        rows = numpy.fromiter((row_id for row_id, _ in batch), numpy.int64, len(batch))
        best_rows = numpy.concatenate([best_rows, rows])
        best_scores = numpy.concatenate([best_scores, scores.astype(numpy.float32)])
        if len(best_rows) > top_k:
            keep = numpy.argpartition(-best_scores, top_k - 1)[:top_k]
            best_rows, best_scores = best_rows[keep], best_scores[keep]
    order = numpy.lexsort((best_rows, -best_scores))
    return list(zip(best_rows[order].tolist(), best_scores[order].tolist(), strict=True))


def passing(conn: sqlite3.Connection, row_ids: list[int], filters: ChunkFilter) -> set[int]:
    """The row ids among ``row_ids`` whose chunks pass the filter."""
    where, params = filter_clause(filters)
    rows = conn.execute(
        f"SELECT row_id FROM chunk INDEXED BY chunk_candidate "  # noqa: S608
        f"WHERE row_id IN (SELECT value FROM json_each(?)) AND {where}",
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
    filters: ChunkFilter,
    query: numpy.ndarray | None,
    row_ids: list[int],
    bm25: dict[int, float],
    bound: float,
    cosines: dict[int, float],
) -> list[Candidate]:
    """The rows that still pass the filter, each with its BM25 over ``bound`` (0 when it has
    none) and the cosine similarity of its vector to ``query``: from ``cosines`` (what vector
    search measured) or else computed from the stored vector."""
    if not row_ids:
        return []
    where, params = filter_clause(filters)
    rows = conn.execute(
        f"SELECT row_id, id, document_id FROM chunk INDEXED BY chunk_candidate "  # noqa: S608
        f"WHERE row_id IN (SELECT value FROM json_each(?)) AND {where}",
        [json.dumps(row_ids), *params],
    ).fetchall()
    missing = [row[0] for row in rows if row[0] not in cosines]
    if query is not None and missing:
        stored = conn.execute(
            "SELECT row_id, vector FROM chunk WHERE row_id IN (SELECT value FROM json_each(?))",
            (json.dumps(missing),),
        ).fetchall()
        measured = _cosines(query, [vector for _, vector in stored])
        cosines = {**cosines, **dict(zip([row_id for row_id, _ in stored], measured, strict=True))}
    return [
        Candidate(
            chunk_id=row[1],
            document_id=row[2],
            term_similarity=min(bm25.get(row[0], 0.0) / bound, MAX_TERM_SIMILARITY)
            if bound
            else 0.0,
            vector_similarity=cosines.get(row[0], 0.0),
        )
        for row in rows
    ]


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
