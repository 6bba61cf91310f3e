"""Full-text ranking through tantivy: a derived, in-memory index of the tokens stored in SQLite.

FTS5's ``bm25()`` costs about a microsecond for every row that matches any query term, and
common terms match most rows: over 200k chunks that is 100+ ms a query. tantivy ranks the same
query in about a millisecond, so each process keeps one tantivy index of the whole store in
memory, built from the ``chunk`` table on first use, and SQLite stays the truth.

It is kept in step like the HNSW indexes (``_hnsw``): every write logs the rows whose tokens,
availability or existence changed to ``text_log`` in the writing transaction (triggers), and
before every search the index replays the entries after the last one it applied: it drops
those rows and re-adds the ones that still exist, with their current values, then commits. So
a chunk added, edited, disabled or deleted by any process is found or gone at the next search.
``delete_dataset`` replaces the dataset's entries by one ``drop`` entry. Callers still check
hits against SQLite when they read the rows, which also covers writes committed between the
replay and their read.

Scoring is BM25 (k1 1.2, b 0.75) over one field holding the content tokens once, the title
tokens twice and the keyword tokens five times, so a match weighs 1, 2 or 5 as with FTS5's
column weights, with tantivy's IDF ``ln(1 + (N - n + 0.5) / (n + 0.5))``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence

import tantivy

from ragserve.store.base import ChunkFilter

BM25_K1 = 1.2
CONTENT_REPEAT = 1
TITLE_REPEAT = 2
KEYWORD_REPEAT = 5
"""How often each column's tokens enter the indexed text: its weight in the term frequency."""
WRITER_HEAP_BYTES = 64 * 1024 * 1024
BATCH_ROWS = 4096
MAX_TOKEN_BYTES = 1024
"""Longer tokens are not indexed (the ingest tokenizer keeps at most 100 characters)."""

_TOKENIZER = "ragserve_tokens"
_ROW_COLUMNS = (
    "row_id, tenant_id, dataset_id, document_id, available, content_tokens, title_tokens, "
    "keyword_tokens"
)

Connect = Callable[[], sqlite3.Connection]
Hit = tuple[int, float]
Row = tuple[int, str, str, str, int, str, str, str]


class TextIndex:
    """This process's tantivy index of every chunk, brought up to date from the log on use."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._schema = _schema()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._searcher: tantivy.Searcher | None = None
        self._applied_seq = 0

    def search(self, terms: Sequence[str], filters: ChunkFilter, top_k: int) -> list[Hit]:
        """The ``top_k`` best rows passing the filter that match any term, best first (ties by
        row id); scores are BM25, positive."""
        searcher = self._current()
        clauses = [
            (tantivy.Occur.Must, self._any_of(terms)),
            (tantivy.Occur.Must, self._one_of("tenant", filters.tenant_ids)),
            (tantivy.Occur.Must, self._one_of("dataset", filters.dataset_ids)),
        ]
        if filters.document_ids is not None:
            clauses.append((tantivy.Occur.Must, self._one_of("document", filters.document_ids)))
        if filters.available_only:
            clauses.append(self._not_unavailable())
        return _hits(searcher, tantivy.Query.boolean_query(clauses), top_k)

    def search_documents(
        self, terms: Sequence[str], document_ids: Sequence[str], available_only: bool, top_k: int
    ) -> list[Hit]:
        """``search`` restricted by documents (and availability) alone, at half the cost: each
        tenant or dataset clause drags a posting list as long as the dataset through the
        intersection. Rows of these documents outside the datasets or tenants asked for are
        the caller's to drop."""
        clauses = [
            (tantivy.Occur.Must, self._any_of(terms)),
            (tantivy.Occur.Must, self._one_of("document", document_ids)),
        ]
        if available_only:
            clauses.append(self._not_unavailable())
        return _hits(self._current(), tantivy.Query.boolean_query(clauses), top_k)

    def search_unfiltered(self, terms: Sequence[str], limit: int) -> list[Hit]:
        """The ``limit`` best rows of the whole index matching any term, best first: without
        filter clauses tantivy can skip blocks that cannot reach the top."""
        return _hits(self._current(), self._any_of(terms), limit)

    def share(self, dataset_ids: Sequence[str]) -> float:
        """About which fraction of the indexed rows belongs to these datasets (deleted rows
        not merged away yet still count)."""
        searcher = self._current()
        if not searcher.num_docs:
            return 0.0
        rows = sum(searcher.doc_freq("dataset", dataset_id) for dataset_id in set(dataset_ids))
        return min(1.0, rows / searcher.num_docs)

    def scores(self, terms: Sequence[str], row_ids: Sequence[int]) -> list[Hit]:
        """BM25 of these rows for the terms; rows matching no term are left out."""
        if not row_ids:
            return []
        searcher = self._current()
        rows = tantivy.Query.term_set_query(self._schema, "row", list(row_ids))
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, self._any_of(terms)),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(rows, 0.0)),
            ]
        )
        return _hits(searcher, query, len(row_ids))

    def bound(self, terms: Sequence[str]) -> float:
        """The highest BM25 a row could reach for these terms: ``(k1 + 1) * sum(idf)``."""
        searcher = self._current()
        total = searcher.num_docs
        idf = 0.0
        for term in terms:
            found = searcher.doc_freq("terms", term)
            idf += math.log(1.0 + (total - found + 0.5) / (found + 0.5))
        return (BM25_K1 + 1.0) * idf

    def close(self) -> None:
        with self._lock:
            self._searcher = self._writer = self._index = None

    def _any_of(self, terms: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "terms", term))
                for term in terms
            ]
        )

    def _not_unavailable(self) -> tuple[tantivy.Occur, tantivy.Query]:
        """Excluding the few unavailable rows is cheaper than requiring the many available."""
        return (tantivy.Occur.MustNot, tantivy.Query.term_query(self._schema, "available", 0))

    def _one_of(self, field: str, values: Sequence[str]) -> tantivy.Query:
        query = tantivy.Query.term_set_query(self._schema, field, list(values))
        return tantivy.Query.const_score_query(query, 0.0)

    def _current(self) -> tantivy.Searcher:
        """The searcher over every change committed to SQLite before this call."""
        with self._lock:
            if self._index is None:
                self._build()
            else:
                self._catch_up()
            assert self._searcher is not None
            return self._searcher

    def _build(self) -> None:
        """A new index of every chunk, read in one snapshot with the log position it holds."""
        index = tantivy.Index(self._schema)
        index.register_tokenizer(
            _TOKENIZER,
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
            .filter(tantivy.Filter.lowercase())
            .build(),
        )
        writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM text_log").fetchone()[0]
            cursor = conn.execute(f"SELECT {_ROW_COLUMNS} FROM chunk")  # noqa: S608
            while batch := cursor.fetchmany(BATCH_ROWS):
                _add(writer, batch)
        finally:
            conn.execute("COMMIT")
        writer.commit()
        index.reload()
        self._index, self._writer, self._applied_seq = index, writer, seq
        self._searcher = index.searcher()

    def _catch_up(self) -> None:
        """Replay the log entries after the last applied one: idempotent, state based."""
        assert self._index is not None and self._writer is not None
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            entries = conn.execute(
                "SELECT seq, dataset_id, chunk_row, op FROM text_log WHERE seq > ? ORDER BY seq",
                (self._applied_seq,),
            ).fetchall()
            row_ids = sorted({entry[2] for entry in entries if entry[3] != "drop"})
            rows: list[Row] = (
                conn.execute(
                    f"SELECT {_ROW_COLUMNS} FROM chunk "  # noqa: S608
                    f"WHERE row_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(row_ids),),
                ).fetchall()
                if row_ids
                else []
            )
        finally:
            conn.execute("COMMIT")
        if not entries:
            return
        dropped = sorted({entry[1] for entry in entries if entry[3] == "drop"})
        if dropped:
            gone = tantivy.Query.term_set_query(self._schema, "dataset", dropped)
            self._writer.delete_documents_by_query(gone)
        if row_ids:
            stale = tantivy.Query.term_set_query(self._schema, "row", row_ids)
            self._writer.delete_documents_by_query(stale)
        _add(self._writer, rows)
        self._writer.commit()
        self._index.reload()
        self._searcher = self._index.searcher()
        self._applied_seq = entries[-1][0]


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("row", indexed=True, fast=True)
    for field in ("tenant", "dataset", "document"):
        builder.add_text_field(field, tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("available", indexed=True)
    builder.add_text_field("terms", tokenizer_name=_TOKENIZER, index_option="freq")
    return builder.build()


def _add(writer: tantivy.IndexWriter, rows: Iterable[Row]) -> None:
    for row_id, tenant_id, dataset_id, document_id, available, content, title, keywords in rows:
        document = tantivy.Document()
        document.add_unsigned("row", row_id)
        document.add_text("tenant", tenant_id)
        document.add_text("dataset", dataset_id)
        document.add_text("document", document_id)
        document.add_unsigned("available", 1 if available else 0)
        parts = [content] * CONTENT_REPEAT + [title] * TITLE_REPEAT + [keywords] * KEYWORD_REPEAT
        document.add_text("terms", " ".join(part for part in parts if part))
        writer.add_document(document)


def _hits(searcher: tantivy.Searcher, query: tantivy.Query, limit: int) -> list[Hit]:
    found = searcher.search(query, limit, count=False).hits
    row_ids = searcher.fast_field_values("row", [address for _, address in found])
    hits = [
        (int(row_id), float(score))
        for (score, _), row_id in zip(found, row_ids, strict=True)
        if isinstance(row_id, int)
    ]
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    return hits
