"""The chunk store contract run on the PostgreSQL + pgvector backend (a fresh database per
test on the session's server, ``helpers.pgvector``)."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy
import psycopg
import pytest

from contract.chunk_store_cases import (
    DATASET,
    OTHER_TENANT,
    TENANT,
    ChunkStoreContract,
    exact_neighbours,
    fillers,
    ids,
    make_chunk,
    scope,
    unit_vector,
)
from helpers.data import CRANFIELD, cranfield_text
from ragserve.store import ChunkRecord, ChunkStore, ChunkStoreError, SqliteChunkStore, _pg_text
from ragserve.store._search import query_terms
from ragserve.store.postgres import PgChunkStore
from ragserve.tokenizer import tokenize

OpenPg = Callable[[], PgChunkStore]


@pytest.fixture
def open_pg(pgvector_url: str) -> Iterator[OpenPg]:
    """Opens stores on the test's database, and closes them all at the end."""
    opened: list[PgChunkStore] = []

    def open_store() -> PgChunkStore:
        store = PgChunkStore(pgvector_url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


class TestPgChunkStore(ChunkStoreContract):
    @pytest.fixture
    def store(self, pgvector_url: str) -> Iterator[ChunkStore]:
        store = PgChunkStore(pgvector_url)
        yield store
        store.close()


def cranfield_chunks(count: int) -> list[ChunkRecord]:
    """Cranfield abstracts as chunks in ragserve's own tokens, a few with titles and keywords."""
    abstracts = cranfield_text(count).split("\n\n")
    return [
        make_chunk(
            text,
            order=i,
            document_id=f"doc-{i % 20}",
            tokens=" ".join(tokenize(text)),
            title_tokens=" ".join(tokenize(text.split(".")[0])) if i % 3 == 0 else "",
            keyword_tokens=" ".join(tokenize(" ".join(text.split()[:3]))) if i % 5 == 0 else "",
            seed=i,
        )
        for i, text in enumerate(abstracts)
    ]


def cranfield_questions(count: int) -> list[list[str]]:
    text = (CRANFIELD / "cran.qry").read_text(errors="replace")
    return [
        tokenize(" ".join(q.split("\n.W\n", 1)[-1].split()))
        for q in text.split("\n.I ")[1 : count + 1]
    ]


def reference_bm25(chunks: list[ChunkRecord], terms: list[str]) -> dict[str, float]:
    """BM25 (k1 1.2, b 0.75, tantivy's IDF) over the chunks as one partition, computed here:
    content once, title twice and keywords five times."""
    bags = []
    for chunk in chunks:
        tokens = chunk.content_tokens.split() + chunk.title_tokens.split() * 2
        bags.append(Counter(tokens + chunk.keyword_tokens.split() * 5))
    average = sum(sum(bag.values()) for bag in bags) / len(bags)
    scores: dict[str, float] = {}
    for chunk, bag in zip(chunks, bags, strict=True):
        length = sum(bag.values())
        score = 0.0
        for term in dict.fromkeys(terms):
            held = sum(1 for other in bags if term in other)
            tf = bag[term]
            if tf:
                idf = math.log(1 + (len(bags) - held + 0.5) / (held + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        if score:
            scores[chunk.id] = score
    return scores


class TestPgBm25:
    """Text ranking is real BM25 over ragserve's tokens: IDF and length normalisation from the
    partition's statistics, as the embedded backend ranks."""

    def test_scores_are_bm25_of_the_partition(self, pgvector_url: str, open_pg: OpenPg) -> None:
        chunks = cranfield_chunks(300)
        store = open_pg()
        store.insert(chunks[:150])
        store.insert(chunks[150:])
        store.insert([make_chunk("wing wing", order=9, tenant_id=OTHER_TENANT)])
        for terms in cranfield_questions(15):
            expected = reference_bm25(chunks, terms)
            hits = store.search_text(terms, scope(), 10)
            best = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:10]
            assert [hit.score for hit in hits] == pytest.approx([s for _, s in best], rel=1e-9)
            assert {hit.chunk.id for hit in hits} <= set(expected)

    def test_statistics_follow_deletes_updates_and_renames(
        self, pgvector_url: str, open_pg: OpenPg
    ) -> None:
        chunks = cranfield_chunks(120)
        store = open_pg()
        store.insert(chunks)
        store.delete([chunk.id for chunk in chunks[:10]])
        store.delete_document("doc-11")
        edited = replace(chunks[20], content_tokens="wing flutter supersonic wing")
        store.update(edited)
        store.rename_document("doc-12", "wing.pdf", "wing theori")
        store.replace_document("doc-13", [make_chunk("new wing", order=1, document_id="doc-13")])
        current = {c.id: c for c in store.list_document_chunks("doc-12", limit=1000)[0]}
        kept = [
            current.get(c.id, edited if c.id == edited.id else c)
            for c in chunks[10:]
            if c.document_id not in ("doc-11", "doc-13")
        ] + [make_chunk("new wing", order=1, document_id="doc-13")]
        for terms in [["wing"], ["flutter", "theori"], *cranfield_questions(5)]:
            expected = reference_bm25(kept, terms)
            hits = store.search_text(terms, scope(available_only=False), 200)
            assert {hit.chunk.id: hit.score for hit in hits} == pytest.approx(expected, rel=1e-9)

    def test_ranking_matches_the_embedded_backend(self, open_pg: OpenPg, tmp_path: Path) -> None:
        chunks = cranfield_chunks(400)
        pg = open_pg()
        sqlite = SqliteChunkStore(tmp_path / "chunks.db", tmp_path / "vectors")
        overlaps = []
        try:
            for store in (pg, sqlite):
                store.insert(chunks)
            for terms in cranfield_questions(30):
                mine = ids(pg.search_text(terms, scope(), 10))
                theirs = ids(sqlite.search_text(terms, scope(), 10))
                overlaps.append(len(set(mine) & set(theirs)) / max(len(theirs), 1))
                # tantivy keeps lengths to one byte (a lossy norm): near ties may swap
                assert mine[0] in theirs[:3], terms
        finally:
            sqlite.close()
        assert sum(overlaps) / len(overlaps) >= 0.95


class TestPgPrunedSearch:
    """A search skips the scan of common terms' postings: every row it returns has its whole
    BM25, and the best rows stay the best."""

    def test_pruned_rows_have_their_whole_bm25_and_the_top_stays(
        self, pgvector_url: str, open_pg: OpenPg, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_pg_text, "SCANNED_POSTINGS", 40)  # most terms count as common
        monkeypatch.setattr(_pg_text, "PROBE_COST", 0)  # and are always probed
        chunks = cranfield_chunks(300)
        store = open_pg()
        store.insert(chunks)
        pruned, overlaps = 0, []
        for terms in cranfield_questions(30):
            expected = reference_bm25(chunks, terms)
            for top_k, documents in ((10, None), (40, None), (10, ["doc-1", "doc-7"])):
                allowed = {c.id for c in chunks if documents is None or c.document_id in documents}
                kept = {key: score for key, score in expected.items() if key in allowed}
                best = sorted(kept.items(), key=lambda item: (-item[1], item[0]))[:top_k]
                filters = scope(documents=documents)
                hits = store.search_text(terms, filters, top_k)
                assert len(hits) == len(best)
                assert [hit.score for hit in hits] == sorted(
                    (hit.score for hit in hits), reverse=True
                )
                for hit in hits:
                    assert hit.score == pytest.approx(kept[hit.chunk.id], rel=1e-9)
                overlaps.append(len(set(ids(hits[:5])) & {key for key, _ in best[:5]}) / 5)
                conn = psycopg.connect(pgvector_url)
                try:
                    text = _pg_text.TextScope(conn, query_terms(terms), filters)
                    pruned += text.pruned(conn, top_k, filters) is not None
                finally:
                    conn.close()
        assert pruned >= 20  # the pruned statement answered many searches itself
        assert sum(overlaps) / len(overlaps) >= 0.9


class TestPgSharing:
    """Every process sees every committed write at once: nothing is cached."""

    def test_two_stores_on_one_database_see_each_others_writes(
        self, pgvector_url: str, open_pg: OpenPg
    ) -> None:
        writer, reader = open_pg(), open_pg()
        first = make_chunk("apple first", seed=1)
        writer.insert([first, *fillers()])
        assert ids(reader.search_vector(unit_vector(1), scope(), 1)) == [first.id]
        assert ids(reader.search_text(["apple"], scope(), 5)) == [first.id]
        writer.update(replace(first, content_tokens="pear", vector=unit_vector(3)))
        assert ids(reader.search_text(["pear"], scope(), 5)) == [first.id]
        assert ids(reader.search_vector(unit_vector(3), scope(), 1)) == [first.id]
        writer.delete_dataset(DATASET)
        assert reader.search_text(["pear"], scope(), 5) == []

    def test_concurrent_writers_of_one_dataset_keep_its_statistics(
        self, pgvector_url: str, open_pg: OpenPg
    ) -> None:
        chunks = cranfield_chunks(200)
        stores = [open_pg() for _ in range(4)]

        def write(index: int) -> None:
            mine = [c for c in chunks if int(c.document_id.split("-")[1]) % 4 == index]
            by_document: dict[str, list[ChunkRecord]] = {}
            for chunk in mine:
                by_document.setdefault(chunk.document_id, []).append(chunk)
            for document_id, batch in by_document.items():
                stores[index].replace_document(document_id, batch)
                stores[index].replace_document(document_id, batch)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        for terms in cranfield_questions(5):
            expected = reference_bm25(chunks, terms)
            hits = stores[0].search_text(terms, scope(), 300)
            assert {hit.chunk.id: hit.score for hit in hits} == pytest.approx(expected, rel=1e-9)
        with psycopg.connect(pgvector_url) as conn:
            wrong = conn.execute(
                "SELECT count(*) FROM chunk_term_stat s WHERE rows != "
                "(SELECT count(*) FROM chunk_posting p WHERE p.part_id = s.part_id "
                "AND p.term = s.term)"
            ).fetchone()
        assert wrong == (0,)


class TestPgVectors:
    def test_hnsw_recall_and_top_k_past_the_default_ef_search(
        self, pgvector_url: str, open_pg: OpenPg
    ) -> None:
        dim, count = 384, 3000
        vectors = numpy.random.default_rng(7).standard_normal((count, dim)).astype(numpy.float32)
        vectors /= numpy.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = [make_chunk(order=i, vector=vectors[i]) for i in range(count)]
        store = open_pg()
        store.insert(chunks)
        with psycopg.connect(pgvector_url, autocommit=True) as conn:
            conn.execute("ANALYZE chunk")
            plan = conn.execute(
                f"EXPLAIN SELECT row_id FROM chunk WHERE dim = {dim} "
                f"ORDER BY (vector::vector({dim})) <=> %s::vector({dim}) LIMIT 10",
                (str(vectors[0].tolist()),),
            ).fetchall()
        assert f"chunk_hnsw_{dim}" in str(plan)
        queries = numpy.random.default_rng(8).standard_normal((20, dim)).astype(numpy.float32)
        recalls = []
        for query in queries:
            found = ids(store.search_vector(query, scope(), 100))
            exact = numpy.argsort(-(vectors @ query))[:100]
            assert len(found) == 100
            recalls.append(len(set(found) & {chunks[i].id for i in exact}) / 100)
        assert numpy.mean(recalls) >= 0.9

    def test_filtered_search_finds_the_few_passing_chunks(
        self, pgvector_url: str, open_pg: OpenPg
    ) -> None:
        """Iterative index scans keep going past the nearest chunks that fail the filter."""
        chunks = [
            make_chunk(order=i, seed=i, document_id=f"doc-{i % 10}", available=i % 50 == 0)
            for i in range(2000)
        ]
        store = open_pg()
        store.insert(chunks)
        query = unit_vector(9999)
        available = [chunk for chunk in chunks if chunk.available]
        hits = store.search_vector(query, scope(), 10)
        assert ids(hits) == [key for key, _ in exact_neighbours(query, available, 10)]
        in_document = [c for c in chunks if c.document_id == "doc-3"]
        hits = store.search_vector(query, scope(documents=["doc-3"], available_only=False), 10)
        assert ids(hits) == [key for key, _ in exact_neighbours(query, in_document, 10)]

    @pytest.mark.parametrize("dim", [2048, 4100])
    def test_wide_vectors(self, open_pg: OpenPg, dim: int) -> None:
        """halfvec HNSW past 2000 dimensions, an exact scan past 4000: scores stay exact."""
        chunks = [make_chunk(order=i, vector=unit_vector(i, dim=dim)) for i in range(30)]
        store = open_pg()
        store.insert(chunks)
        query = unit_vector(100, dim=dim)
        hits = store.search_vector(query, scope(), 5)
        expected = exact_neighbours(query, chunks, 5)
        assert ids(hits) == [key for key, _ in expected]
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-5)


class TestPgLifecycle:
    def test_an_unreachable_server_raises(self) -> None:
        with pytest.raises(ChunkStoreError, match="cannot connect"):
            PgChunkStore("postgresql://nobody@127.0.0.1:1/chunks")

    def test_a_newer_schema_is_refused(self, pgvector_url: str, open_pg: OpenPg) -> None:
        open_pg().close()
        with psycopg.connect(pgvector_url, autocommit=True) as conn:
            conn.execute("UPDATE chunk_store_schema SET version = 99")
        with pytest.raises(ChunkStoreError, match="schema version 99"):
            open_pg()

    def test_reopening_keeps_everything(self, pgvector_url: str, open_pg: OpenPg) -> None:
        chunks = cranfield_chunks(50)
        store = open_pg()
        store.insert(chunks)
        before = [(h.chunk.id, h.score) for h in store.search_text(["wing"], scope(), 10)]
        again = open_pg()
        assert [(h.chunk.id, h.score) for h in again.search_text(["wing"], scope(), 10)] == before
        assert again.get([chunks[0].id], [TENANT]) == [chunks[0]]

    def test_a_closed_store_refuses_work(self, open_pg: OpenPg) -> None:
        store = open_pg()
        store.close()
        with pytest.raises(ChunkStoreError):
            store.search_text(["x"], scope(), 5)
