"""The metadata store and the chunk store agree after any failure between their writes.

Each document or chunk operation is run while its metadata commit fails (both stores must be as
before), while the chunk-store write fails (the change is committed and the repair brings the
store in line), and while the commit that follows the store write fails (the repair again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select

from api.test_parsing import TEXT, new_dataset, parse, upload
from conftest import Account
from ragserve.db.models import Document, StoreSync
from ragserve.domain import RunState, Validity
from ragserve.ingest import store_sync
from ragserve.runtime import Runtime
from ragserve.services import ingestion
from ragserve.store.base import ChunkStoreError
from ragserve.worker import Reaper

WRITES = ("INSERT", "UPDATE", "DELETE")


class CommitFailed(Exception):
    """What a lost database connection looks like to the code that commits."""


@dataclass
class FailingCommits:
    """Makes chosen commits of transactions that wrote something fail (1 = the next one)."""

    fail: set[int] = field(default_factory=set)
    seen: int = 0
    writing: set[int] = field(default_factory=set)

    def on_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            self.writing.add(id(conn))

    def on_commit(self, conn: Any) -> None:
        if id(conn) not in self.writing:
            return
        self.writing.discard(id(conn))
        self.seen += 1
        if self.seen in self.fail:
            raise CommitFailed("the database went away at commit")

    def on_rollback(self, conn: Any) -> None:
        self.writing.discard(id(conn))

    def arm(self, *which: int) -> None:
        self.fail, self.seen = set(which), 0


@pytest.fixture
def commits(runtime: Runtime) -> Iterator[FailingCommits]:
    failing = FailingCommits()
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", failing.on_execute),
        ("commit", failing.on_commit),
        ("rollback", failing.on_rollback),
    ]
    for name, hook in hooks:
        event.listen(runtime.engine, name, hook)
    yield failing
    for name, hook in hooks:
        event.remove(runtime.engine, name, hook)


def break_once(monkeypatch: pytest.MonkeyPatch, runtime: Runtime, method: str) -> None:
    """The chunk store's ``method`` fails once, then works again."""
    working = getattr(runtime.chunks, method)

    def failing(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(runtime.chunks, method, working)
        raise ChunkStoreError("the chunk store is unavailable")

    monkeypatch.setattr(runtime.chunks, method, failing)


@dataclass
class Parsed:
    dataset_id: str
    document_id: str
    name: str = "cranes.md"


@pytest.fixture
def parsed(alice: Account) -> Parsed:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    return Parsed(dataset_id, document_id)


def row(runtime: Runtime, document_id: str) -> Document | None:
    with runtime.read() as session:
        return session.get(Document, document_id)


def chunk_state(runtime: Runtime, document_id: str) -> tuple[int, set[str], set[bool]]:
    """How many chunks the store holds for the document, their names and availabilities."""
    records, total = runtime.chunks.list_document_chunks(document_id, limit=10_000)
    return total, {r.document_name for r in records}, {r.available for r in records}


def assert_agree(runtime: Runtime, document_id: str) -> None:
    document = row(runtime, document_id)
    total, names, available = chunk_state(runtime, document_id)
    if document is None:
        assert total == 0, "a deleted document kept its chunks"
        return
    counts = runtime.chunks.counts(document_id=document_id)
    assert (document.chunk_count, document.token_count) == (counts.chunks, counts.tokens)
    assert names <= {document.name}
    assert available <= {document.status == Validity.VALID}


def pending(runtime: Runtime) -> int:
    with runtime.read() as session:
        return len(session.scalars(select(StoreSync.id)).all())


def repair(runtime: Runtime) -> None:
    store_sync.apply_all(runtime.sessions, runtime.chunks)
    assert pending(runtime) == 0


# --------------------------------------------------------------------------------------------
# the operations


def docs_url(p: Parsed) -> str:
    return f"/api/v1/datasets/{p.dataset_id}/documents"


def chunks_url(p: Parsed, chunk_id: str = "") -> str:
    base = f"{docs_url(p)}/{p.document_id}/chunks"
    return f"{base}/{chunk_id}" if chunk_id else base


def first_chunk(runtime: Runtime, p: Parsed) -> str:
    records, _ = runtime.chunks.list_document_chunks(p.document_id, limit=1)
    return records[0].id


def rename(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"name": "birds.md"}
    return account.client.put(
        f"{docs_url(p)}/{p.document_id}", json=body, headers=account.api_headers
    )


def disable(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"enabled": False}
    return account.client.put(
        f"{docs_url(p)}/{p.document_id}", json=body, headers=account.api_headers
    )


def new_method(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"chunk_method": "qa"}
    return account.client.put(
        f"{docs_url(p)}/{p.document_id}", json=body, headers=account.api_headers
    )


def delete_document(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"ids": [p.document_id]}
    return account.client.request("DELETE", docs_url(p), json=body, headers=account.api_headers)


def reparse(account: Account, runtime: Runtime, p: Parsed) -> Any:
    url = f"/api/v1/datasets/{p.dataset_id}/chunks"
    body = {"document_ids": [p.document_id]}
    return account.client.post(url, json=body, headers=account.api_headers)


def running(runtime: Runtime, p: Parsed) -> None:
    """Make the parsed document look as if a parse were running (for ``stop``)."""
    with runtime.transaction() as session:
        document = session.get(Document, p.document_id)
        assert document is not None
        document.run, document.progress = RunState.RUNNING, 0.5


def stop(account: Account, runtime: Runtime, p: Parsed) -> Any:
    url = f"/api/v1/datasets/{p.dataset_id}/chunks"
    body = {"document_ids": [p.document_id]}
    return account.client.request("DELETE", url, json=body, headers=account.api_headers)


def add_chunk(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"content": "Sandhill cranes dance in spring."}
    return account.client.post(chunks_url(p), json=body, headers=account.api_headers)


def edit_chunk(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"content": "Cranes are tall birds that dance and migrate far."}
    url = chunks_url(p, first_chunk(runtime, p))
    return account.client.put(url, json=body, headers=account.api_headers)


def delete_chunk(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"chunk_ids": [first_chunk(runtime, p)]}
    return account.client.request("DELETE", chunks_url(p), json=body, headers=account.api_headers)


def delete_dataset(account: Account, runtime: Runtime, p: Parsed) -> Any:
    body = {"ids": [p.dataset_id]}
    return account.client.request(
        "DELETE", "/api/v1/datasets", json=body, headers=account.api_headers
    )


Operation = Callable[[Account, Runtime, Parsed], Any]
OPERATIONS: dict[str, Operation] = {
    "rename": rename,
    "disable": disable,
    "new_method": new_method,
    "delete_document": delete_document,
    "reparse": reparse,
    "stop": stop,
    "add_chunk": add_chunk,
    "edit_chunk": edit_chunk,
    "delete_chunk": delete_chunk,
    "delete_dataset": delete_dataset,
}
PREPARE: dict[str, Callable[[Runtime, Parsed], None]] = {"stop": running}
STORE_WRITES = {
    "rename": "rename_document",
    "disable": "set_available",
    "new_method": "delete_document",
    "delete_document": "delete_document",
    "reparse": "delete_document",
    "stop": "delete_document",
    "add_chunk": "insert",
    "edit_chunk": "update",
    "delete_chunk": "delete",
    "delete_dataset": "delete_dataset",
}


def skip(_runtime: Runtime, _p: Parsed) -> None:
    pass


def ok(response: Any) -> bool:
    return response.status_code == 200 and response.json()["code"] == 0


# --------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failed_commit_changes_neither_store(
    alice: Account, runtime: Runtime, parsed: Parsed, commits: FailingCommits, operation: str
) -> None:
    PREPARE.get(operation, skip)(runtime, parsed)
    before = chunk_state(runtime, parsed.document_id)
    commits.arm(1)
    assert not ok(OPERATIONS[operation](alice, runtime, parsed))
    assert commits.seen >= 1
    assert_agree(runtime, parsed.document_id)
    assert chunk_state(runtime, parsed.document_id) == before


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failed_store_write_is_repaired(
    alice: Account,
    runtime: Runtime,
    parsed: Parsed,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
) -> None:
    PREPARE.get(operation, skip)(runtime, parsed)
    break_once(monkeypatch, runtime, STORE_WRITES[operation])
    OPERATIONS[operation](alice, runtime, parsed)
    repair(runtime)
    assert_agree(runtime, parsed.document_id)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failed_commit_after_the_store_write_is_repaired(
    alice: Account, runtime: Runtime, parsed: Parsed, commits: FailingCommits, operation: str
) -> None:
    PREPARE.get(operation, skip)(runtime, parsed)
    commits.arm(2)
    OPERATIONS[operation](alice, runtime, parsed)
    repair(runtime)
    assert_agree(runtime, parsed.document_id)


def test_a_committed_rename_reaches_the_store_after_a_store_failure(
    alice: Account, runtime: Runtime, parsed: Parsed, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_once(monkeypatch, runtime, "rename_document")
    assert not ok(rename(alice, runtime, parsed))
    document = row(runtime, parsed.document_id)
    assert document is not None and document.name == "birds.md"  # committed: the truth
    assert chunk_state(runtime, parsed.document_id)[1] == {"cranes.md"}
    assert pending(runtime) == 1
    ingestion.requeue_expired(runtime)  # what the workers' reaper does every minute
    assert chunk_state(runtime, parsed.document_id)[1] == {"birds.md"}
    assert pending(runtime) == 0


def test_the_next_edit_of_the_document_applies_what_is_pending_first(
    alice: Account, runtime: Runtime, parsed: Parsed, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_once(monkeypatch, runtime, "delete_document")
    assert not ok(new_method(alice, runtime, parsed))  # committed; its purge failed
    assert chunk_state(runtime, parsed.document_id)[0] > 0
    assert ok(add_chunk(alice, runtime, parsed))  # the purge first, then the new chunk
    assert chunk_state(runtime, parsed.document_id)[0] == 1
    assert_agree(runtime, parsed.document_id)


def test_a_parse_finishing_makes_a_pending_purge_moot(
    alice: Account, runtime: Runtime, parsed: Parsed, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_once(monkeypatch, runtime, "delete_document")
    assert not ok(reparse(alice, runtime, parsed))  # the purge failed, the parse ran
    total = chunk_state(runtime, parsed.document_id)[0]
    assert total > 0 and pending(runtime) == 0
    repair(runtime)
    assert chunk_state(runtime, parsed.document_id)[0] == total
    assert_agree(runtime, parsed.document_id)


def test_pending_changes_are_applied_at_start(
    alice: Account, runtime: Runtime, parsed: Parsed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from ragserve.app import create_app

    break_once(monkeypatch, runtime, "set_available")
    assert not ok(disable(alice, runtime, parsed))
    assert chunk_state(runtime, parsed.document_id)[2] == {True}
    with TestClient(create_app(runtime.settings, runtime)):  # a restart: its start-up
        assert chunk_state(runtime, parsed.document_id)[2] == {False}
        assert pending(runtime) == 0


def test_the_servers_reaper_thread_applies_what_a_store_failure_left_pending(
    alice: Account, runtime: Runtime, parsed: Parsed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ragserve serve`` runs its workers' reaper in a thread of the server (``worker.Reaper``),
    not in a worker: it does what the reaper does, on its own."""
    break_once(monkeypatch, runtime, "rename_document")
    assert not ok(rename(alice, runtime, parsed))
    assert pending(runtime) == 1
    reaper = Reaper(runtime, interval=0.05)
    reaper.start()
    try:
        deadline = time.monotonic() + 20
        while pending(runtime) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reaper.stop()
    assert pending(runtime) == 0
    assert chunk_state(runtime, parsed.document_id)[1] == {"birds.md"}
