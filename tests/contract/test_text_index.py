"""The SQLite backend's tantivy text index is a per-process cache: a store that searched keeps
finding what another store on the same files (another process) writes, at its next search."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.chunk_store_cases import (
    DATASET,
    DOCUMENT,
    OTHER_DATASET,
    OTHER_TENANT,
    TENANT,
    fillers,
    ids,
    make_chunk,
    scope,
)
from ragserve.store import ChunkFilter, SqliteChunkStore


def open_store(root: Path) -> SqliteChunkStore:
    return SqliteChunkStore(root / "chunks.db", root / "vectors")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[SqliteChunkStore, SqliteChunkStore]]:
    """A reader that has built its text index, and a writer on the same files."""
    reader, writer = open_store(tmp_path), open_store(tmp_path)
    writer.insert(fillers())
    assert reader.search_text(["walrus"], scope(), 10) == []
    yield reader, writer
    reader.close()
    writer.close()


def test_inserts_updates_and_deletes_of_another_store_are_found_at_once(
    pair: tuple[SqliteChunkStore, SqliteChunkStore],
) -> None:
    reader, writer = pair
    chunk = make_chunk("walrus tusk")
    writer.insert([chunk])
    assert ids(reader.search_text(["walrus"], scope(), 10)) == [chunk.id]

    writer.update(dataclasses.replace(chunk, content_tokens="narwhal tusk"))
    assert reader.search_text(["walrus"], scope(), 10) == []
    assert ids(reader.search_text(["narwhal"], scope(), 10)) == [chunk.id]

    writer.set_available(chunk.document_id, False)
    assert reader.search_text(["narwhal"], scope(), 10) == []
    assert ids(reader.search_text(["narwhal"], scope(available_only=False), 10)) == [chunk.id]
    writer.set_available(chunk.document_id, True)

    replacement = make_chunk("narwhal horn", order=1)
    writer.replace_document(chunk.document_id, [replacement])
    assert ids(reader.search_text(["narwhal"], scope(), 10)) == [replacement.id]

    writer.delete([replacement.id])
    assert reader.search_text(["narwhal"], scope(), 10) == []


def test_a_deleted_dataset_is_gone_and_can_be_filled_again(
    pair: tuple[SqliteChunkStore, SqliteChunkStore],
) -> None:
    reader, writer = pair
    gone = make_chunk("walrus", dataset_id=OTHER_DATASET, document_id="other")
    kept = make_chunk("walrus", order=1)
    writer.insert([gone, kept])
    both = scope(datasets=[DATASET, OTHER_DATASET])
    assert set(ids(reader.search_text(["walrus"], both, 10))) == {gone.id, kept.id}

    assert writer.delete_dataset(OTHER_DATASET) == 1
    assert ids(reader.search_text(["walrus"], both, 10)) == [kept.id]
    with sqlite3.connect(reader_path(writer)) as conn:
        assert conn.execute(
            "SELECT op FROM text_log WHERE dataset_id = ?", (OTHER_DATASET,)
        ).fetchall() == [("drop",)]

    again = make_chunk("walrus again", dataset_id=OTHER_DATASET, document_id="other", order=2)
    writer.insert([again])
    assert set(ids(reader.search_text(["walrus"], both, 10))) == {again.id, kept.id}


def test_a_new_process_builds_its_index_from_sqlite(tmp_path: Path) -> None:
    first = open_store(tmp_path)
    chunks = [make_chunk(f"walrus number{i}", order=i) for i in range(5)]
    first.insert([*chunks, *fillers()])
    expected = ids(first.search_text(["walrus", "number3"], scope(), 10))
    first.close()

    second = open_store(tmp_path)
    assert ids(second.search_text(["walrus", "number3"], scope(), 10)) == expected
    assert expected[0] == chunks[3].id
    second.close()


def test_a_version_1_database_is_upgraded(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    chunk = make_chunk("walrus")
    store.insert([chunk, *fillers()])
    store.close()
    with sqlite3.connect(tmp_path / "chunks.db") as conn:
        for trigger in ("chunk_text_inserted", "chunk_text_deleted", "chunk_text_updated"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE text_log")
        conn.execute("DROP INDEX chunk_candidate")
        conn.execute("PRAGMA user_version = 1")

    store = open_store(tmp_path)
    assert ids(store.search_text(["walrus"], scope(), 10)) == [chunk.id]
    store.delete([chunk.id])
    assert store.search_text(["walrus"], scope(), 10) == []
    store.close()


def reader_path(store: SqliteChunkStore) -> Path:
    path: Path = store._path
    return path


def test_filtered_rows_below_many_better_hidden_ones_are_found(tmp_path: Path) -> None:
    """Ranking the whole index first and filtering after must not lose passing rows that
    rank below more than ``top_k`` rows that fail the filter."""
    store = open_store(tmp_path)
    hidden = [make_chunk(f"walrus walrus hidden{i}", order=i, available=False) for i in range(40)]
    shown = [make_chunk(f"walrus shown{i} and more words", order=100 + i) for i in range(20)]
    store.insert([*hidden, *shown, *fillers()])

    found = ids(store.search_text(["walrus"], scope(), 10))

    assert len(found) == 10 and set(found) <= {chunk.id for chunk in shown}
    store.close()


def test_partitions_built_late_and_replayed_ones_agree_with_a_new_process(
    tmp_path: Path,
) -> None:
    """Each (tenant, dataset) is indexed on the first search that needs it: one built after
    others replayed the log scores as one built from scratch, alone and searched together."""
    reader, writer = open_store(tmp_path), open_store(tmp_path)
    writer.insert([make_chunk("walrus", order=i) for i in range(3)] + fillers())
    reader.search_text(["walrus"], scope(), 10)  # builds DATASET's partition only
    doomed = make_chunk("walrus tusk walrus", order=10)
    writer.insert(
        [doomed, make_chunk("walrus bay", order=11)]
        + [make_chunk(f"walrus {i}", order=i, dataset_id=OTHER_DATASET) for i in range(4)]
        + [make_chunk("walrus", order=20, tenant_id=OTHER_TENANT)]
    )
    everyone = scope(tenants=[TENANT, OTHER_TENANT], datasets=[DATASET, OTHER_DATASET])
    searches = [scope(), scope(datasets=[OTHER_DATASET]), scope(datasets=[DATASET, OTHER_DATASET])]

    def results(store: SqliteChunkStore, filters: ChunkFilter) -> list[tuple[str, float]]:
        return [
            (hit.chunk.id, hit.score) for hit in store.search_text(["walrus", "bay"], filters, 20)
        ]

    fresh = open_store(tmp_path)
    assert len(results(fresh, everyone)) == 3 + 2 + 4 + 1
    for filters in [*searches, everyone]:
        got, expected = results(reader, filters), results(fresh, filters)
        assert [key for key, _ in got] == [key for key, _ in expected]
        assert [score for _, score in got] == pytest.approx([s for _, s in expected], rel=1e-6)

    writer.delete([doomed.id])
    writer.set_available(DOCUMENT, False)
    writer.set_available(DOCUMENT, True)
    again = open_store(tmp_path)
    for filters in [*searches, everyone]:  # deleted rows count in BM25 until merged away
        assert {key for key, _ in results(reader, filters)} == {
            key for key, _ in results(again, filters)
        }
    assert doomed.id not in {key for key, _ in results(reader, everyone)}
    for store in (reader, writer, fresh, again):
        store.close()
