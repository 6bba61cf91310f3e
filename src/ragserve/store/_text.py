"""Full-text ranking through tantivy: derived, in-memory indexes of the tokens stored in SQLite.

FTS5's ``bm25()`` costs about a microsecond for every row that matches any query term, and
common terms match most rows: over 200k chunks that is 100+ ms a query. tantivy ranks the same
query in about a millisecond, so each process keeps tantivy indexes in memory, built from the
``chunk`` table on first use, and SQLite stays the truth.

There is one index per partition, a (tenant, dataset) pair, so that the term statistics BM25
scores with (document frequencies, the number of rows, their average length) are those of the
datasets searched alone: another tenant's writes cannot move a tenant's scores, nor its scores
tell whether a word occurs in another tenant's data. A search over one partition is plain BM25
over it. A search over several takes each term's IDF from all of them together (each
partition's term clause is boosted by the ratio of that IDF to its own) and each row's length
relative to the average of its own partition. A partition is built on the first search that
needs it, so a process only holds the datasets it searches.

They are kept in step like the HNSW indexes (``_hnsw``): every write logs the rows whose
tokens, availability or existence changed to ``text_log`` in the writing transaction
(triggers), and before every search the loaded partitions replay the entries after the last one
applied: they drop those rows and re-add the ones that still exist, with their current values,
then commit. So a chunk added, edited, disabled or deleted by any process is found or gone at
the next search. ``delete_dataset`` replaces the dataset's entries by one ``drop`` entry, which
discards its partitions. Callers still check hits against SQLite when they read the rows, which
also covers writes committed between the replay and their read.

Scoring is BM25 (k1 1.2, b 0.75) over one field holding the content tokens once, the title
tokens twice and the keyword tokens five times, so a match weighs 1, 2 or 5 as with FTS5's
column weights, with tantivy's IDF ``ln(1 + (N - n + 0.5) / (n + 0.5))``.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import tantivy

from ragserve.store.base import ChunkFilter

BM25_K1 = 1.2
CONTENT_REPEAT = 1
TITLE_REPEAT = 2
KEYWORD_REPEAT = 5
"""How often each column's tokens enter the indexed text: its weight in the term frequency."""
BUILD_HEAP_BYTES = 64 * 1024 * 1024
REPLAY_HEAP_BYTES = 15_000_000
"""Writers live for one build or replay (tantivy's smallest budget is 15 MB): a kept writer
holds threads, and opening one costs well under a millisecond."""
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
Partition = tuple[str, str]
"""A tenant id and a dataset id."""


class TextIndex:
    """This process's tantivy indexes, one per partition, brought up to date from the log."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._schema = _schema()
        self._partitions: dict[Partition, _Index] = {}
        self._applied_seq = 0

    def scope(self, terms: Sequence[str], filters: ChunkFilter) -> TextScope:
        """The search of ``terms`` over the filter's tenants and datasets, as of every change
        committed to SQLite before this call."""
        keys = [
            (tenant_id, dataset_id)
            for tenant_id in dict.fromkeys(filters.tenant_ids)
            for dataset_id in dict.fromkeys(filters.dataset_ids)
        ]
        with self._lock:
            self._catch_up(keys)
            searchers = [self._partitions[key].searcher for key in keys]
        return TextScope(self._schema, terms, [s for s in searchers if s.num_docs])

    def close(self) -> None:
        with self._lock:
            self._partitions = {}

    def _catch_up(self, keys: Sequence[Partition]) -> None:
        """Replay the log entries after the last applied one into the loaded partitions
        (idempotent, state based), and build the missing ones of ``keys``, all from one
        snapshot."""
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            if self._partitions:
                entries = conn.execute(
                    "SELECT seq, dataset_id, chunk_row, op FROM text_log WHERE seq > ? "
                    "ORDER BY seq",
                    (self._applied_seq,),
                ).fetchall()
                if entries:
                    self._replay(conn, entries)
                    self._applied_seq = entries[-1][0]
            else:
                self._applied_seq = conn.execute(
                    "SELECT coalesce(max(seq), 0) FROM text_log"
                ).fetchone()[0]
            for key in keys:
                if key not in self._partitions:
                    self._partitions[key] = self._build(conn, key)
        finally:
            conn.execute("COMMIT")

    def _replay(self, conn: sqlite3.Connection, entries: list[tuple[int, str, int, str]]) -> None:
        dropped = {dataset_id for _, dataset_id, _, op in entries if op == "drop"}
        for key in [key for key in self._partitions if key[1] in dropped]:
            del self._partitions[key]
        loaded: dict[str, list[Partition]] = defaultdict(list)
        for key in self._partitions:
            loaded[key[1]].append(key)
        changed: dict[str, set[int]] = defaultdict(set)
        for _, dataset_id, row_id, op in entries:
            if op != "drop" and dataset_id in loaded:
                changed[dataset_id].add(row_id)
        if not changed:
            return
        row_ids = sorted(set().union(*changed.values()))
        rows: list[Row] = conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM chunk "  # noqa: S608
            f"WHERE row_id IN (SELECT value FROM json_each(?))",
            (json.dumps(row_ids),),
        ).fetchall()
        current: dict[Partition, list[Row]] = defaultdict(list)
        for row in rows:
            current[(row[1], row[2])].append(row)
        for dataset_id, stale in changed.items():
            for key in loaded[dataset_id]:
                self._partitions[key].write(sorted(stale), current.get(key, []))

    def _build(self, conn: sqlite3.Connection, key: Partition) -> _Index:
        """A new index of the partition's chunks."""
        index = _Index(self._schema)
        cursor = conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM chunk WHERE dataset_id = ? AND tenant_id = ?",  # noqa: S608
            (key[1], key[0]),
        )
        first = cursor.fetchmany(BATCH_ROWS)
        if first:  # tenants times datasets: many searched pairs hold nothing
            index.write([], itertools.chain(first, _batches(cursor)), heap=BUILD_HEAP_BYTES)
        return index


class TextScope:
    """The term statistics and searchers of one search: built by ``TextIndex.scope``."""

    def __init__(
        self, schema: tantivy.Schema, terms: Sequence[str], searchers: list[tantivy.Searcher]
    ) -> None:
        self._schema = schema
        self._searchers = searchers
        found = [
            {term: searcher.doc_freq("terms", term) for term in terms} for searcher in searchers
        ]
        sizes = [_rows(searcher) for searcher in searchers]
        self._idf = {
            term: _idf(sum(sizes), sum(counts[term] for counts in found)) for term in terms
        }
        self._queries = [
            self._any_of(counts, size, weighted=len(searchers) > 1)
            for counts, size in zip(found, sizes, strict=True)
        ]

    def search(
        self, top_k: int, document_ids: Sequence[str] | None = None, available_only: bool = True
    ) -> list[Hit]:
        """The ``top_k`` best rows that match any term, of these documents (when given) and
        available (when asked), best first (ties by row id); scores are BM25, positive."""
        hits: list[Hit] = []
        for searcher, terms in zip(self._searchers, self._queries, strict=True):
            if terms is None:
                continue
            clauses = [(tantivy.Occur.Must, terms)]
            if document_ids is not None:
                clauses.append((tantivy.Occur.Must, self._documents(document_ids)))
            if available_only and searcher.doc_freq("available", 0):
                hidden = tantivy.Query.term_query(self._schema, "available", 0)
                clauses.append((tantivy.Occur.MustNot, hidden))
            query = terms if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)
            hits.extend(_hits(searcher, query, top_k))
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:top_k]

    def scores(self, row_ids: Sequence[int]) -> list[Hit]:
        """BM25 of these rows; rows matching no term (or outside the scope) are left out."""
        if not row_ids:
            return []
        rows = tantivy.Query.term_set_query(self._schema, "row", list(row_ids))
        hits: list[Hit] = []
        for searcher, terms in zip(self._searchers, self._queries, strict=True):
            if terms is None:
                continue
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, terms),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(rows, 0.0)),
                ]
            )
            hits.extend(_hits(searcher, query, len(row_ids)))
        return hits

    def bound(self) -> float:
        """The highest BM25 a row could reach for these terms: ``(k1 + 1) * sum(idf)``."""
        return (BM25_K1 + 1.0) * sum(self._idf.values())

    def _documents(self, document_ids: Sequence[str]) -> tantivy.Query:
        documents = tantivy.Query.term_set_query(self._schema, "document", list(document_ids))
        return tantivy.Query.const_score_query(documents, 0.0)

    def _any_of(self, found: dict[str, int], total: int, weighted: bool) -> tantivy.Query | None:
        """The partition's query for the terms it holds, each boosted (when ``weighted``) from
        the partition's IDF to the scope's; None when it holds none."""
        clauses = []
        for term, count in found.items():
            if not count:
                continue
            query = tantivy.Query.term_query(self._schema, "terms", term)
            if weighted:
                query = tantivy.Query.boost_query(query, self._idf[term] / _idf(total, count))
            clauses.append((tantivy.Occur.Should, query))
        return tantivy.Query.boolean_query(clauses) if clauses else None


class _Index:
    """One partition's tantivy index and its current searcher."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema
        self.index = tantivy.Index(schema)
        self.index.register_tokenizer(
            _TOKENIZER,
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
            .filter(tantivy.Filter.lowercase())
            .build(),
        )
        self.searcher = self.index.searcher()

    def write(
        self, stale: Sequence[int], rows: Iterable[Row], heap: int = REPLAY_HEAP_BYTES
    ) -> None:
        """Drop the ``stale`` row ids, add ``rows``, commit and renew the searcher."""
        writer = self.index.writer(heap_size=heap, num_threads=1)
        try:
            if stale:
                gone = tantivy.Query.term_set_query(self.schema, "row", list(stale))
                writer.delete_documents_by_query(gone)
            _add(writer, rows)
            writer.commit()
        finally:
            writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()


def _batches(cursor: sqlite3.Cursor) -> Iterable[Row]:
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield from batch


def _rows(searcher: tantivy.Searcher) -> int:
    """The number of rows tantivy's BM25 counts, deleted ones not merged away yet included
    (as in its document frequencies and lengths): every row has one ``available`` value."""
    return int(searcher.doc_freq("available", 0) + searcher.doc_freq("available", 1))


def _idf(total: int, found: int) -> float:
    """tantivy's IDF of a term found in ``found`` of ``total`` rows."""
    return math.log(1.0 + (total - found + 0.5) / (found + 0.5))


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("row", indexed=True, fast=True)
    builder.add_text_field("document", tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("available", indexed=True)
    builder.add_text_field("terms", tokenizer_name=_TOKENIZER, index_option="freq")
    return builder.build()


def _add(writer: tantivy.IndexWriter, rows: Iterable[Row]) -> None:
    for row_id, _, _, document_id, available, content, title, keywords in rows:
        document = tantivy.Document()
        document.add_unsigned("row", row_id)
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
