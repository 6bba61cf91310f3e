"""The SQL side of searching: filters, filtered row ids, row fetching and candidate rows.

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
from ragserve.store.base import Candidate, ChunkFilter, ScoredChunk

MAX_TERM_SIMILARITY = 1.0 - 1e-9
"""BM25 over its bound stays below 1; a text index's scores in float32 can round a hair past
it."""

Hit = tuple[int, float]
"""A chunk row id and its score."""
Passing = dict[int, tuple[str, str, str]]
"""Row ids of chunks that passed a filter, each with the chunk's id, document id and document
name."""


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


def filtered_rows(conn: sqlite3.Connection, dataset_id: str, filters: ChunkFilter) -> numpy.ndarray:
    """The row ids of the dataset's chunks passing the filter."""
    where, params = filter_clause(filters, dataset_id=dataset_id)
    rows = conn.execute(f"SELECT row_id FROM chunk WHERE {where}", params).fetchall()  # noqa: S608
    return numpy.fromiter((row[0] for row in rows), numpy.int64, len(rows))


def passing(conn: sqlite3.Connection, row_ids: Sequence[int], filters: ChunkFilter) -> Passing:
    """The rows among ``row_ids`` whose chunks pass the filter."""
    if not row_ids:
        return {}
    where, params = filter_clause(filters)
    rows = conn.execute(
        f"SELECT row_id, id, document_id, document_name FROM chunk INDEXED BY chunk_candidate "  # noqa: S608
        f"WHERE row_id IN (SELECT value FROM json_each(?)) AND {where}",
        [json.dumps(list(row_ids)), *params],
    ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


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
    row_ids: list[int],
    bm25: dict[int, float],
    bound: float,
    cosines: dict[int, float],
    checked: Passing,
) -> list[Candidate]:
    """The rows that pass the filter (``checked`` already did; the rest are checked here), each
    with its BM25 over ``bound`` and its cosine similarity to the query (0 for either when it
    has none)."""
    passed = dict(checked)
    passed.update(passing(conn, [row_id for row_id in row_ids if row_id not in checked], filters))
    found: list[Candidate] = []
    for row_id in row_ids:
        if row_id not in passed:
            continue
        chunk, document, name = passed[row_id]
        term = min(bm25.get(row_id, 0.0) / bound, MAX_TERM_SIMILARITY) if bound else 0.0
        found.append(Candidate(chunk, document, term, cosines.get(row_id, 0.0), name))
    return found
