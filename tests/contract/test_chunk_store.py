"""The chunk store contract run on the SQLite backend, plus what only that backend can show:
its HNSW files are a rebuildable cache and several processes share it through the vector log.
"""

from __future__ import annotations

import gc
import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy
import pytest
from usearch.index import Index

from contract.chunk_store_cases import (
    DATASET,
    DIM,
    OTHER_DATASET,
    ChunkStoreContract,
    exact_neighbours,
    fillers,
    ids,
    make_chunk,
    scope,
    unit_vector,
)
from ragserve.store import ChunkRecord, ChunkStore, ChunkStoreError, SqliteChunkStore, _hnsw


class TestSqliteChunkStore(ChunkStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[ChunkStore]:
        store = SqliteChunkStore(tmp_path / "chunks.db", tmp_path / "vectors")
        yield store
        store.close()


def open_store(root: Path) -> SqliteChunkStore:
    return SqliteChunkStore(root / "chunks.db", root / "vectors")


def vector_results(store: SqliteChunkStore, queries: int = 8) -> list[list[tuple[str, float]]]:
    return [
        [
            (hit.chunk.id, round(hit.score, 5))
            for hit in store.search_vector(unit_vector(5000 + seed), scope(), 10)
        ]
        for seed in range(queries)
    ]


def expected_results(chunks: list[ChunkRecord], queries: int = 8) -> list[list[str]]:
    return [
        [key for key, _ in exact_neighbours(unit_vector(5000 + seed), chunks, 10)]
        for seed in range(queries)
    ]


class TestSqliteVectorIndexes:
    """The HNSW files are a cache: lost, broken or stale ones are rebuilt or caught up, and
    several processes share the store through the vector log."""

    @pytest.fixture
    def chunks(self) -> list[ChunkRecord]:
        return [make_chunk(f"chunk {i}", order=i, seed=i) for i in range(200)]

    @pytest.fixture
    def saved(self, tmp_path: Path, chunks: list[ChunkRecord]) -> list[list[tuple[str, float]]]:
        """A store with ``chunks`` whose index file was saved on close; its results."""
        store = open_store(tmp_path)
        store.insert(chunks)
        results = vector_results(store)
        store.close()
        assert (tmp_path / "vectors" / f"{DATASET}.usearch").is_file()
        return results

    def index_file(self, tmp_path: Path) -> Path:
        return tmp_path / "vectors" / f"{DATASET}.usearch"

    def test_results_are_those_of_exact_search(
        self, saved: list[list[tuple[str, float]]], chunks: list[ChunkRecord]
    ) -> None:
        assert [[key for key, _ in hits] for hits in saved] == expected_results(chunks)

    def test_a_deleted_index_file_is_rebuilt(
        self,
        tmp_path: Path,
        saved: list[list[tuple[str, float]]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self.index_file(tmp_path).unlink()
        store = open_store(tmp_path)
        with caplog.at_level(logging.INFO, logger="ragserve.store"):
            assert vector_results(store) == saved
        store.close()
        assert "rebuilding" in caplog.text
        assert self.index_file(tmp_path).is_file()

    @pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-dimension"])
    def test_a_broken_index_file_is_rebuilt(
        self, tmp_path: Path, saved: list[list[tuple[str, float]]], damage: str
    ) -> None:
        path = self.index_file(tmp_path)
        if damage == "garbage":
            path.write_bytes(b"not an index " * 1000)
        elif damage == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif damage == "empty":
            path.write_bytes(b"")
        else:
            other = Index(ndim=DIM // 2, metric="cos", dtype="f32")
            other.add(numpy.arange(1, 201), numpy.ones((200, DIM // 2), numpy.float32))
            other.save(str(path))

        store = open_store(tmp_path)
        assert vector_results(store) == saved
        store.close()

    def test_a_stale_index_file_is_caught_up_from_the_log(
        self,
        tmp_path: Path,
        saved: list[list[tuple[str, float]]],
        chunks: list[ChunkRecord],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        writer = open_store(tmp_path)  # writes without ever loading the index
        more = [make_chunk(f"more {i}", order=500 + i, seed=500 + i) for i in range(50)]
        writer.insert(more)
        writer.delete([chunk.id for chunk in chunks[:50]])
        writer.close()
        current = chunks[50:] + more

        reader = open_store(tmp_path)
        with caplog.at_level(logging.INFO, logger="ragserve.store"):
            got = [[key for key, _ in hits] for hits in vector_results(reader)]
        reader.close()

        assert got == expected_results(current)
        assert "rebuilding" not in caplog.text

    def test_two_stores_on_the_same_files_see_each_others_writes(self, tmp_path: Path) -> None:
        writer, reader = open_store(tmp_path), open_store(tmp_path)
        first = make_chunk("apple first", seed=1)
        writer.insert([first, *fillers()])
        assert ids(reader.search_vector(unit_vector(1), scope(), 1)) == [first.id]

        second = make_chunk("pear second", order=1, seed=2)
        writer.insert([second])
        assert ids(reader.search_vector(unit_vector(2), scope(), 1)) == [second.id]
        assert ids(reader.search_text(["pear"], scope(), 5)) == [second.id]

        second.vector = unit_vector(3)
        writer.update(second)
        assert ids(reader.search_vector(unit_vector(3), scope(), 1)) == [second.id]

        writer.delete([first.id])
        assert ids(reader.search_vector(unit_vector(1), scope(), 5)) == [second.id]

        writer.delete_dataset(DATASET)
        assert reader.search_vector(unit_vector(3), scope(), 5) == []
        third = make_chunk("plum third", vector=unit_vector(4, dim=DIM * 2))
        writer.insert([third])
        assert third.vector is not None
        assert ids(reader.search_vector(third.vector, scope(), 5)) == [third.id]
        writer.close()
        reader.close()

    def test_a_store_dropped_without_closing_recovers(
        self, tmp_path: Path, chunks: list[ChunkRecord]
    ) -> None:
        store = open_store(tmp_path)
        store.insert(chunks[:100])
        vector_results(store, queries=1)  # builds and saves the index
        store.insert(chunks[100:])
        store.delete([chunk.id for chunk in chunks[:20]])
        vector_results(store, queries=1)  # applied in memory only
        del store
        gc.collect()

        reopened = open_store(tmp_path)
        got = [[key for key, _ in hits] for hits in vector_results(reopened)]
        reopened.close()
        assert got == expected_results(chunks[20:])

    def test_a_killed_writer_process_loses_nothing_committed(
        self, tmp_path: Path, chunks: list[ChunkRecord]
    ) -> None:
        script = textwrap.dedent(
            f"""
            import os, signal
            from pathlib import Path
            from contract.chunk_store_cases import make_chunk, scope, unit_vector
            from ragserve.store import SqliteChunkStore
            root = Path({str(tmp_path)!r})
            store = SqliteChunkStore(root / "chunks.db", root / "vectors")
            chunks = [make_chunk(f"chunk {{i}}", order=i, seed=i) for i in range(200)]
            store.insert(chunks[:100])
            store.search_vector(unit_vector(1), scope(), 5)
            store.insert(chunks[100:])
            store.delete([chunk.id for chunk in chunks[:20]])
            store.search_vector(unit_vector(1), scope(), 5)
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        tests_dir = Path(__file__).resolve().parents[1]
        child = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tests_dir,
            capture_output=True,
            timeout=120,
            env={"PYTHONPATH": str(tests_dir), "PATH": ""},
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()

        store = open_store(tmp_path)
        got = [[key for key, _ in hits] for hits in vector_results(store)]
        store.close()
        assert got == expected_results(chunks[20:])

    def test_filtered_vector_search_stays_exact(self, tmp_path: Path) -> None:
        chunks = [
            make_chunk(order=i, seed=i, document_id=f"doc-{i % 10}", available=i % 50 == 0)
            for i in range(500)
        ]
        store = open_store(tmp_path)
        store.insert(chunks)
        query = unit_vector(9999)

        # few available chunks: HNSW candidates are mostly filtered out, exact search takes over
        hits = store.search_vector(query, scope(), 10)
        available = [chunk for chunk in chunks if chunk.available]
        assert ids(hits) == [key for key, _ in exact_neighbours(query, available, 10)]
        # a document filter over few chunks searches them exactly
        hits = store.search_vector(query, scope(documents=["doc-3"], available_only=False), 10)
        in_document = [chunk for chunk in chunks if chunk.document_id == "doc-3"]
        assert ids(hits) == [key for key, _ in exact_neighbours(query, in_document, 10)]
        # a document filter whose nearest chunks are mostly unavailable widens its search:
        # 10 of doc-0's 50 chunks are available, none of doc-9's
        hits = store.search_vector(query, scope(documents=["doc-0", "doc-9"]), 10)
        passing = [c for c in chunks if c.document_id in ("doc-0", "doc-9") and c.available]
        assert ids(hits) == [key for key, _ in exact_neighbours(query, passing, 10)]
        assert len(hits) == len(passing) == 10
        store.close()

    def test_hnsw_recall_against_exact_search(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_hnsw, "EXACT_BELOW", 0)  # walk the int8 graph, not the matrix
        dim, count = 384, 5000
        vectors = numpy.random.default_rng(7).standard_normal((count, dim)).astype(numpy.float32)
        vectors /= numpy.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = [make_chunk(order=i, vector=vectors[i]) for i in range(count)]
        store = open_store(tmp_path)
        store.insert(chunks)
        queries = numpy.random.default_rng(8).standard_normal((40, dim)).astype(numpy.float32)

        recalls = []
        for query in queries:
            found = set(ids(store.search_vector(query, scope(), 10)))
            exact = numpy.argsort(-(vectors @ query))[:10]
            recalls.append(len(found & {chunks[i].id for i in exact}) / 10)
        store.close()
        assert numpy.mean(recalls) >= 0.95

    def test_deleting_a_dataset_leaves_one_log_entry(self, tmp_path: Path) -> None:
        store = open_store(tmp_path)
        store.insert([make_chunk(order=i, seed=i) for i in range(20)])
        store.insert(
            [
                make_chunk(order=i, seed=i, dataset_id=OTHER_DATASET, document_id="d2")
                for i in range(5)
            ]
        )
        store.search_vector(unit_vector(1), scope(), 5)
        store.delete_dataset(DATASET)
        store.close()

        with sqlite3.connect(tmp_path / "chunks.db") as conn:
            log = conn.execute(
                "SELECT dataset_id, op, count(*) FROM vector_log GROUP BY 1, 2 ORDER BY 1"
            ).fetchall()
        conn.close()
        assert log == [(DATASET, "clear", 1), (OTHER_DATASET, "add", 5)]
        assert not self.index_file(tmp_path).exists()

    def test_a_version_3_database_gets_names_in_its_candidate_index(self, tmp_path: Path) -> None:
        store = open_store(tmp_path)
        chunk = make_chunk("walrus", seed=1)
        store.insert([chunk, *fillers()])
        store.close()
        with sqlite3.connect(tmp_path / "chunks.db") as conn:
            conn.execute("DROP INDEX chunk_candidate")
            conn.execute(
                "CREATE INDEX chunk_candidate "
                "ON chunk (row_id, id, document_id, dataset_id, tenant_id, available)"
            )
            conn.execute("PRAGMA user_version = 3")
        conn.close()

        store = open_store(tmp_path)
        found = store.candidates(["walrus"], unit_vector(1), scope(), 1)
        assert [(c.chunk_id, c.document_name) for c in found] == [(chunk.id, "document-1.pdf")]
        store.close()
        with sqlite3.connect(tmp_path / "chunks.db") as conn:
            columns = [row[2] for row in conn.execute("PRAGMA index_info(chunk_candidate)")]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        assert "document_name" in columns and version == 4

    def test_a_newer_schema_is_refused(self, tmp_path: Path) -> None:
        open_store(tmp_path).close()
        with sqlite3.connect(tmp_path / "chunks.db") as conn:
            conn.execute("PRAGMA user_version = 99")
        conn.close()

        with pytest.raises(ChunkStoreError, match="schema version 99"):
            open_store(tmp_path)

    def test_a_closed_store_refuses_work(self, tmp_path: Path) -> None:
        store = open_store(tmp_path)
        store.close()

        with pytest.raises(ChunkStoreError):
            store.search_text(["x"], scope(), 5)
