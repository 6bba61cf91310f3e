"""BM25 over ragserve's own tokens in PostgreSQL: postings and per-partition term statistics.

The store never tokenizes: the tokens made by the ingest tokenizer (stems, CJK words) are
indexed as given, split on whitespace and lowercased, exactly as the embedded backend's tantivy
index (``_text``) takes them; so are query terms. PostgreSQL's own full text (``tsvector``,
``ts_rank_cd``) is not used: it would stem and split again, and it ranks without IDF.

A partition is a (tenant, dataset) pair, as in ``_text``: its statistics (rows, summed length,
rows holding each term) are those of its chunks alone, so another tenant's writes neither move
a tenant's scores nor tell whether a word occurs in its data. Every row of a partition counts,
available or not. Writes keep them in the writing transaction; writers of a dataset take its
advisory lock first (``PgChunkStore``), so the counters never race.

A row's terms are its content tokens once, its title tokens twice and its keyword tokens five
times (the field weights of ``_text``); ``tf`` is a term's weighted count and the row's length
its weighted token count. A search over partitions P scores a row r of partition p as

    sum over query terms t of  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(r) / avg_p))

with ``idf(t) = ln(1 + (N - n + 0.5) / (n + 0.5))``, N the rows and n the rows holding t of all
of P together, and ``avg_p`` the average length in p: plain BM25 (k1 1.2, b 0.75) over a single
partition, and over several the same blend as ``_text``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from ragserve.store._text import (
    BM25_K1,
    CONTENT_REPEAT,
    KEYWORD_REPEAT,
    MAX_TOKEN_BYTES,
    TITLE_REPEAT,
)
from ragserve.store.base import ChunkFilter

BM25_B = 0.75

Conn = psycopg.Connection[Any]
Hit = tuple[int, float]


@dataclass(frozen=True)
class Indexed:
    """A chunk row as the text index sees it."""

    row_id: int
    part_id: int
    available: bool
    terms: Counter[str]
    length: int


def row_terms(content: str, title: str, keywords: str) -> tuple[Counter[str], int]:
    """The weighted term frequencies and length of a row with these token texts."""
    counts: Counter[str] = Counter()
    length = 0
    for text, weight in (
        (content, CONTENT_REPEAT),
        (title, TITLE_REPEAT),
        (keywords, KEYWORD_REPEAT),
    ):
        for token in text.split():
            if len(token.encode()) >= MAX_TOKEN_BYTES or "\x00" in token:
                continue
            counts[token.lower()] += weight
            length += weight
    return counts, length


def partition(conn: Conn, tenant_id: str, dataset_id: str) -> int:
    """The id of the (tenant, dataset) partition, created when new."""
    found = conn.execute(
        "SELECT part_id FROM chunk_partition WHERE dataset_id = %s AND tenant_id = %s",
        (dataset_id, tenant_id),
    ).fetchone()
    if found is not None:
        return int(found[0])
    made = conn.execute(
        "INSERT INTO chunk_partition (tenant_id, dataset_id) VALUES (%s, %s) RETURNING part_id",
        (tenant_id, dataset_id),
    ).fetchone()
    assert made is not None
    return int(made[0])


def add(conn: Conn, rows: Sequence[Indexed]) -> None:
    """Index the rows (none indexed yet) and count them in their partitions' statistics."""
    _count(conn, rows, +1)
    postings = [
        (row.part_id, term, row.row_id, tf, row.length, row.available)
        for row in rows
        for term, tf in row.terms.items()
    ]
    if postings:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY chunk_posting (part_id, term, row_id, tf, length, available) FROM STDIN"
            ) as copy,
        ):
            for posting in postings:
                copy.write_row(posting)


def remove(conn: Conn, rows: Sequence[Indexed]) -> None:
    """Unindex the rows (indexed with these terms) and uncount them."""
    if not rows:
        return
    conn.execute(
        "DELETE FROM chunk_posting WHERE row_id = ANY(%s)", ([row.row_id for row in rows],)
    )
    _count(conn, rows, -1)


def set_available(conn: Conn, document_id: str, available: bool) -> None:
    conn.execute(
        "UPDATE chunk_posting SET available = %s WHERE row_id IN "
        "(SELECT row_id FROM chunk WHERE document_id = %s) AND available != %s",
        (available, document_id, available),
    )


def _count(conn: Conn, rows: Sequence[Indexed], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) the rows in their partitions' statistics; counters
    are updated in key order."""
    parts: dict[int, list[int]] = {}
    terms: Counter[tuple[int, str]] = Counter()
    for row in rows:
        totals = parts.setdefault(row.part_id, [0, 0])
        totals[0] += 1
        totals[1] += row.length
        for term in row.terms:
            terms[(row.part_id, term)] += 1
    for part_id in sorted(parts):
        count, length = parts[part_id]
        conn.execute(
            "UPDATE chunk_partition SET rows = rows + %s, total_length = total_length + %s "
            "WHERE part_id = %s",
            (sign * count, sign * length, part_id),
        )
    if not terms:
        return
    keys = sorted(terms)
    conn.execute(
        "INSERT INTO chunk_term_stat AS s (part_id, term, rows) "
        "SELECT part_id, term, n FROM unnest(%s::integer[], %s::text[], %s::bigint[]) "
        "AS d(part_id, term, n) ORDER BY part_id, term "
        "ON CONFLICT (part_id, term) DO UPDATE SET rows = s.rows + excluded.rows",
        (
            [part for part, _ in keys],
            [term for _, term in keys],
            [sign * terms[key] for key in keys],
        ),
    )
    if sign < 0:
        conn.execute(
            "DELETE FROM chunk_term_stat WHERE rows <= 0 AND (part_id, term) IN "
            "(SELECT * FROM unnest(%s::integer[], %s::text[]))",
            ([part for part, _ in keys], [term for _, term in keys]),
        )


class TextScope:
    """The BM25 statistics of one search: its terms over the filter's partitions."""

    def __init__(self, conn: Conn, terms: Sequence[str], filters: ChunkFilter) -> None:
        self.terms = list(terms)
        found = conn.execute(
            "SELECT part_id, rows, total_length FROM chunk_partition "
            "WHERE dataset_id = ANY(%s) AND tenant_id = ANY(%s) AND rows > 0",
            (list(filters.dataset_ids), list(filters.tenant_ids)),
        ).fetchall()
        self.parts = [int(row[0]) for row in found]
        self.averages = [float(row[2]) / float(row[1]) for row in found]
        total = sum(int(row[1]) for row in found)
        self.held: dict[str, int] = dict.fromkeys(self.terms, 0)
        if self.parts:
            for term, rows in conn.execute(
                "SELECT term, sum(rows) FROM chunk_term_stat "
                "WHERE part_id = ANY(%s) AND term = ANY(%s) GROUP BY term",
                (self.parts, self.terms),
            ).fetchall():
                self.held[term] = int(rows)
        self.idf = {term: _idf(total, self.held[term]) for term in self.terms}
        self.matching = sorted(
            (term for term in self.terms if self.held[term]), key=lambda t: (self.held[t], t)
        )
        """The terms some row holds, rarest first."""

    def bound(self) -> float:
        """The highest BM25 a row could reach for these terms: ``(k1 + 1) * sum(idf)``."""
        return (BM25_K1 + 1.0) * sum(self.idf.values())

    def search(
        self, conn: Conn, top_k: int, filters: ChunkFilter, row_ids: Iterable[int] | None = None
    ) -> list[Hit]:
        """The ``top_k`` best rows matching any term (of ``row_ids`` when given) that pass
        the filter, best first (ties by row id).

        Common terms are not scanned when they cannot change the result (MaxScore): the
        rarest terms, up to ``SCANNED_POSTINGS`` postings, score every row holding them; the
        others add their part only to the rows that could still reach the top k, and rows
        holding only them are skipped when even their highest possible score, the sum of
        ``(k1 + 1) * idf``, stays below the k-th best score of the rare terms alone. When
        it does not, the search scans every term's postings."""
        if not self.matching or not self.parts or top_k <= 0:
            return []
        if row_ids is None and filters.document_ids is not None:
            found = conn.execute(
                "SELECT row_id FROM chunk WHERE document_id = ANY(%s) ORDER BY row_id LIMIT %s",
                (list(filters.document_ids), ROWS_OF_DOCUMENTS),
            ).fetchall()
            if len(found) < ROWS_OF_DOCUMENTS:  # their postings, not the terms', are read
                row_ids = [int(row[0]) for row in found]
                filters = replace(filters, document_ids=None)
        if row_ids is None:
            hits = self.pruned(conn, top_k, filters)
            if hits is not None:
                return hits
        params = self._params(top_k)
        where = self._where(filters, row_ids, params)
        found = conn.execute(_EXHAUSTIVE.format(where=where), params).fetchall()
        return [(int(row_id), float(score)) for row_id, score in found]

    def pruned(self, conn: Conn, top_k: int, filters: ChunkFilter) -> list[Hit] | None:
        """``search`` without ``row_ids``, skipping the scan of common terms; None when no
        term is common, probing would cost more than scanning, or fewer than ``top_k`` rows
        hold a rare term (then every posting is summed).

        Exact when the common terms' highest possible part (``rest``) stays below the k-th
        best whole score of the best rare rows and at most ``NEAR_ROWS`` times ``top_k``
        other rows could still reach it; otherwise the rows holding only common terms, and
        rare rows past that many, are left out: rows whose score is mostly made of words
        found in a large part of the corpus (``bench/retrieval.py`` measures the overlap)."""
        scanned = 0
        rare: list[str] = []
        for term in self.matching:
            scanned += self.held[term]
            if rare and scanned > SCANNED_POSTINGS:
                break
            rare.append(term)
        common = self.matching[len(rare) :]
        probes = (1 + NEAR_ROWS) * top_k * len(common)
        if not common or PROBE_COST * probes >= sum(self.held[term] for term in common):
            return None
        params = self._params(top_k)
        params.update(rare=rare, common=common, rest=self._reach(common), near=NEAR_ROWS * top_k)
        where = self._where(filters, None, params)
        found = conn.execute(_PRUNED.format(where=where), params).fetchall()
        if not found or float(found[0][2]) <= 0.0:
            return None
        return [(int(row_id), float(score)) for row_id, score, _ in found]

    def _reach(self, terms: Sequence[str]) -> float:
        """The highest BM25 the terms can add to a row (a hair over, against rounding)."""
        return (BM25_K1 + 1.0) * sum(self.idf[term] for term in terms) * (1 + 1e-9)

    def _params(self, top_k: int) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "c1s": [BM25_K1 * (1 - BM25_B)] * len(self.parts),
            "c2s": [BM25_K1 * BM25_B / average for average in self.averages],
            "terms": self.matching,
            "weights": [self.idf[term] * (BM25_K1 + 1) for term in self.matching],
            "top_k": top_k,
        }

    def _where(
        self, filters: ChunkFilter, row_ids: Iterable[int] | None, params: dict[str, Any]
    ) -> str:
        """The conditions on postings ``p`` beside their partition and term."""
        clauses = ["true"]
        if filters.available_only:
            clauses.append("p.available")
        if filters.document_ids is not None:
            clauses.append(
                "p.row_id IN (SELECT row_id FROM chunk WHERE document_id = ANY(%(documents)s))"
            )
            params["documents"] = list(filters.document_ids)
        if row_ids is not None:
            clauses.append("p.row_id = ANY(%(rows)s)")
            params["rows"] = list(row_ids)
        return " AND ".join(clauses)


SCANNED_POSTINGS = 50000
"""How many postings of a search's rarest terms are scored in full (at least one term's)."""
ROWS_OF_DOCUMENTS = 20_000
"""A document filter over fewer chunks than this scores those chunks' postings of the query
terms (probing the posting key by row), not every posting of the terms."""
NEAR_ROWS = 4
"""Rare rows past the best k whose common terms are added: this many times k at most."""
PROBE_COST = 10
"""What an index probe for a row's common terms costs, in scanned postings: a search whose
probes would cost more than scanning the common terms' postings scans them."""

_WEIGHTS = (
    "w(term, weight) AS (SELECT * FROM unnest(%(terms)s::text[], %(weights)s::float8[])), "
    "a(part_id, c1, c2) AS (SELECT * FROM "
    "unnest(%(parts)s::integer[], %(c1s)s::float8[], %(c2s)s::float8[]))"
)
"""Each term's ``idf * (k1 + 1)``; each partition's ``k1 * (1 - b)`` and ``k1 * b / avg``."""
_BM25 = "sum(w.weight * p.tf / (p.tf + a.c1 + a.c2 * p.length))"
_SCORED = (
    "FROM chunk_posting p JOIN w ON w.term = p.term JOIN a ON a.part_id = p.part_id "
    "WHERE p.part_id = ANY(%(parts)s) AND p.term = ANY({terms}) AND {where}"
)
_EXHAUSTIVE = (
    f"WITH {_WEIGHTS} SELECT p.row_id, {_BM25} AS score "
    + _SCORED.format(terms="%(terms)s", where="{where}")
    + " GROUP BY p.row_id ORDER BY score DESC, p.row_id LIMIT %(top_k)s"
)
"""Every posting of every term, summed per row."""
_MORE = (
    f"LEFT JOIN LATERAL (SELECT {_BM25} AS score "  # noqa: S608
    "FROM chunk_posting p JOIN w ON w.term = p.term JOIN a ON a.part_id = p.part_id "
    "WHERE p.part_id = ANY(%(parts)s) AND p.term = ANY(%(common)s) "
    "AND p.row_id = {rows}.row_id) AS more ON true"
)
"""A row's common terms' part of its score, by index probes."""
_PRUNED = (
    f"WITH {_WEIGHTS}, "  # noqa: S608
    f"rare AS MATERIALIZED (SELECT p.row_id, {_BM25} AS score "
    + _SCORED.format(terms="%(rare)s", where="{where}")
    + " GROUP BY p.row_id), "  # noqa: S608
    "best AS MATERIALIZED (SELECT row_id, score FROM rare "
    "ORDER BY score DESC, row_id LIMIT %(top_k)s), "
    "whole AS MATERIALIZED (SELECT best.row_id, best.score + coalesce(more.score, 0) AS score "
    f"FROM best {_MORE.format(rows='best')}), "
    "kth AS (SELECT coalesce((SELECT score FROM whole ORDER BY score DESC "
    "LIMIT 1 OFFSET %(top_k)s - 1), 0) AS score), "
    "near AS (SELECT rare.row_id, rare.score FROM rare, kth "
    "WHERE rare.score + %(rest)s >= kth.score "
    "AND rare.row_id NOT IN (SELECT row_id FROM best) "
    "ORDER BY rare.score DESC, rare.row_id LIMIT %(near)s) "
    "SELECT found.row_id, found.score, (SELECT score FROM kth) AS kth FROM ("
    "SELECT row_id, score FROM whole UNION ALL "
    "SELECT near.row_id, near.score + coalesce(more.score, 0) FROM near "
    f"{_MORE.format(rows='near')}"
    ") AS found ORDER BY found.score DESC, found.row_id LIMIT %(top_k)s"
)
"""The rare terms' postings summed per row; the best k rows by that made whole with their
common terms' parts, whose k-th score bounds the result's from below; the common terms'
parts added to the other rows whose rare score plus the common terms' highest (``rest``)
reaches that bound. The bound comes with every row: the caller checks that rows of common
terms alone cannot reach it."""


def _idf(total: int, found: int) -> float:
    """BM25's IDF (tantivy's) of a term found in ``found`` of ``total`` rows."""
    return math.log(1.0 + (total - found + 0.5) / (found + 0.5))
