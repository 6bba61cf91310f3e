"""Long PDFs parsed as page-range tasks: the same chunks as one task, cancel, failure, re-parse,
dead workers. ``inline`` tests run tasks in the server (``workers = 0``); ``queued`` ones leave
them on the queue and run them one by one with the worker's own entry point."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.test_parsing import document, new_dataset, parse, stop, upload
from conftest import Account
from helpers.pdf import text_pdf
from ragserve.app import create_app
from ragserve.bootstrap import build_runtime
from ragserve.db.models import Document, IngestTask, TaskStatus
from ragserve.ingest import tasks
from ragserve.runtime import Runtime
from ragserve.services import ingestion
from ragserve.settings import Settings

WORDS = ["wing", "lift", "drag", "flow", "shock", "wave", "layer", "vortex", "angle", "thrust"]
# 90 tokens: a page of 4 lines is one chunk, a page of 7 lines two; no chunk spans two pages.
CHUNKING = {"chunk_token_num": 90}


def page_lines(page: int, lines: int, seed: int = 0) -> list[str]:
    rng = random.Random(page * 100 + seed)
    return [
        f"Page {page} line {line}: " + " ".join(rng.choice(WORDS) for _ in range(9)) + "."
        for line in range(1, lines + 1)
    ]


def sample_pdf(seed: int = 0, pages: int = 9) -> bytes:
    """``pages`` pages; every third page has two chunks' worth of text."""
    return text_pdf(
        [page_lines(page, 7 if page % 3 == 0 else 4, seed) for page in range(1, pages + 1)]
    )


def set_config(account: Account, dataset_id: str, document_id: str, **config: Any) -> None:
    result = account.client.put(
        f"/api/v1/datasets/{dataset_id}/documents/{document_id}",
        json={"parser_config": config},
        headers=account.api_headers,
    ).json()
    assert result["code"] == 0, result


def chunk_rows(runtime: Runtime, document_id: str) -> list[tuple[str, int, int]]:
    chunks, _total = runtime.chunks.list_document_chunks(document_id, limit=1000)
    return [(c.content, c.order, c.positions[0][0] if c.positions else 0) for c in chunks]


def task_rows(runtime: Runtime, document_id: str) -> list[IngestTask]:
    with runtime.read() as session:
        rows = session.scalars(
            select(IngestTask)
            .where(IngestTask.document_id == document_id)
            .order_by(IngestTask.create_time, IngestTask.from_page)
        ).all()
        for row in rows:
            _ = row.result  # load the deferred column inside the session
        return list(rows)


def reference_chunks(account: Account, runtime: Runtime, dataset_id: str, **config: Any) -> Any:
    """The chunks of ``sample_pdf`` parsed as one task (with ``config``)."""
    document_id = upload(account, dataset_id, "whole.pdf", sample_pdf())
    set_config(account, dataset_id, document_id, task_page_size=1000, **config)
    parse(account, dataset_id, [document_id])
    for task_id in queued_ids(runtime, document_id):  # when tasks are not run inline
        ingestion.run_task(runtime, task_id)
    assert document(account, dataset_id, document_id)["run"] == "DONE"
    assert len(task_rows(runtime, document_id)) == 1
    return chunk_rows(runtime, document_id)


# --- tasks run inline ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["naive", "presentation"])
def test_split_parse_gives_the_chunks_of_one_task(
    alice: Account, runtime: Runtime, method: str
) -> None:
    dataset_id = new_dataset(alice, chunk_method=method, parser_config=CHUNKING)
    whole = reference_chunks(alice, runtime, dataset_id)
    assert len(whole) >= 9 and {page for _c, _o, page in whole} == set(range(1, 10))
    document_id = upload(alice, dataset_id, "split.pdf", sample_pdf())
    set_config(alice, dataset_id, document_id, task_page_size=2)
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    doc = document(alice, dataset_id, document_id)
    assert (doc["run"], doc["progress"], doc["chunk_count"]) == ("DONE", 1.0, len(whole))
    assert chunk_rows(runtime, document_id) == whole
    log = doc["progress_msg"].splitlines()
    assert log[-1].endswith("Task done") and sum("Task done" in line for line in log) == 1
    assert any(line.endswith("Split into 5 tasks of up to 2 pages.") for line in log)
    assert any(line.endswith("Pages 9-9: Task has been received.") for line in log)
    rows = sorted(task_rows(runtime, document_id), key=lambda row: row.from_page)
    assert [(r.from_page, r.to_page) for r in rows] == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 9)]
    assert {(r.status, r.result, r.progress) for r in rows} == {(TaskStatus.DONE, None, 1.0)}
    assert len({r.parse_id for r in rows}) == 1
    counts = runtime.chunks.counts(document_id=document_id)
    assert (counts.chunks, counts.tokens) == (doc["chunk_count"], doc["token_count"])


def test_split_respects_the_selected_pages(alice: Account, runtime: Runtime) -> None:
    dataset_id = new_dataset(alice, parser_config=CHUNKING)
    pages = [[6, 9], [2, 3], [3, 3]]
    whole = reference_chunks(alice, runtime, dataset_id, pages=pages)
    assert {page for _c, _o, page in whole} == {2, 3, 6, 7, 8, 9}
    document_id = upload(alice, dataset_id, "split.pdf", sample_pdf())
    set_config(alice, dataset_id, document_id, task_page_size=2, pages=pages)
    parse(alice, dataset_id, [document_id])
    assert chunk_rows(runtime, document_id) == whole
    ranges = [(r.from_page, r.to_page) for r in task_rows(runtime, document_id)]
    assert sorted(ranges) == [(2, 3), (6, 7), (8, 9)]


def test_short_pdfs_and_whole_document_methods_are_not_split(
    alice: Account, runtime: Runtime
) -> None:
    dataset_id = new_dataset(alice, parser_config=CHUNKING)
    short = upload(alice, dataset_id, "short.pdf", sample_pdf())  # 9 pages <= 12 (the setting)
    one = upload(alice, dataset_id, "one.pdf", sample_pdf())
    set_config(alice, dataset_id, one, task_page_size=2)
    alice.client.put(
        f"/api/v1/datasets/{dataset_id}/documents/{one}",
        json={"chunk_method": "one"},
        headers=alice.api_headers,
    )
    parse(alice, dataset_id, [short, one])
    for document_id in (short, one):
        assert document(alice, dataset_id, document_id)["run"] == "DONE"
        [task] = task_rows(runtime, document_id)
        assert (task.from_page, task.to_page) == (0, 0)
    assert len(chunk_rows(runtime, one)) == 1


# --- tasks left on the queue and run one by one -----------------------------------------------


@pytest.fixture
def queued(settings: Settings) -> Iterator[tuple[Account, Runtime]]:
    runtime = build_runtime(settings, run_tasks_inline=False)
    with TestClient(create_app(settings, runtime), raise_server_exceptions=False) as client:
        yield Account(client, "carol@example.com"), runtime


def queued_ids(runtime: Runtime, document_id: str) -> list[str]:
    return [r.id for r in task_rows(runtime, document_id) if r.status == TaskStatus.QUEUED]


def start_split_parse(account: Account, runtime: Runtime, data: bytes) -> tuple[str, str]:
    """A 9-page PDF in tasks of 2 pages, its first task run: pages 1-2 staged, 4 tasks queued."""
    dataset_id = new_dataset(account, parser_config=CHUNKING)
    document_id = upload(account, dataset_id, "split.pdf", data)
    set_config(account, dataset_id, document_id, task_page_size=2)
    assert parse(account, dataset_id, [document_id]) == {"code": 0}
    [first] = queued_ids(runtime, document_id)
    ingestion.run_task(runtime, first)
    rows = task_rows(runtime, document_id)
    assert [(r.from_page, r.status) for r in rows if r.result] == [(1, TaskStatus.DONE)]
    assert len(queued_ids(runtime, document_id)) == 4
    doc = document(account, dataset_id, document_id)
    assert doc["run"] == "RUNNING" and 0 < doc["progress"] < 1
    assert runtime.chunks.counts(document_id=document_id).chunks == 0
    return dataset_id, document_id


def test_tasks_run_in_any_order_and_the_last_one_indexes(
    queued: tuple[Account, Runtime],
) -> None:
    account, runtime = queued
    dataset_id, document_id = start_split_parse(account, runtime, sample_pdf())
    progress = []
    for task_id in reversed(queued_ids(runtime, document_id)):
        ingestion.run_task(runtime, task_id)
        progress.append(document(account, dataset_id, document_id)["progress"])
    assert progress == sorted(progress) and progress[-1] == 1.0 and progress[-2] < 1
    doc = document(account, dataset_id, document_id)
    assert doc["run"] == "DONE" and doc["progress_msg"].endswith("Task done")
    whole = reference_chunks(account, runtime, dataset_id)
    assert chunk_rows(runtime, document_id) == whole


def test_stop_mid_way_cancels_every_task(queued: tuple[Account, Runtime]) -> None:
    account, runtime = queued
    dataset_id, document_id = start_split_parse(account, runtime, sample_pdf())
    waiting = queued_ids(runtime, document_id)
    ingestion.run_task(runtime, waiting[0])
    assert stop(account, dataset_id, [document_id]) == {"code": 0}
    for task_id in waiting[1:]:
        ingestion.run_task(runtime, task_id)  # the queue still delivers them: they do nothing
    doc = document(account, dataset_id, document_id)
    assert (doc["run"], doc["chunk_count"]) == ("CANCEL", 0)
    assert not doc["progress_msg"].endswith("Task done")
    assert runtime.chunks.counts(document_id=document_id).chunks == 0
    rows = task_rows(runtime, document_id)
    assert [r.result for r in rows] == [None] * 5
    assert sorted(r.status for r in rows) == sorted(
        [TaskStatus.DONE] * 2 + [TaskStatus.CANCELLED] * 3
    )


def test_a_failing_range_fails_the_document_and_cancels_the_rest(
    queued: tuple[Account, Runtime],
) -> None:
    account, runtime = queued
    data = sample_pdf()
    dataset_id, document_id = start_split_parse(account, runtime, data)
    with runtime.read() as session:
        blob_key = session.get_one(Document, document_id).blob_key
    runtime.blobs.put(blob_key, b"%PDF-1.4 no longer a PDF")  # e.g. a damaged copy
    waiting = queued_ids(runtime, document_id)
    ingestion.run_task(runtime, waiting[0])
    doc = document(account, dataset_id, document_id)
    assert (doc["run"], doc["progress"], doc["chunk_count"]) == ("FAIL", -1.0, 0)
    assert "[ERROR] Pages 3-4: The file is not a readable PDF" in doc["progress_msg"]
    statuses = {r.from_page: (r.status, r.result) for r in task_rows(runtime, document_id)}
    assert statuses == {
        1: (TaskStatus.DONE, None),
        3: (TaskStatus.FAILED, None),
        **{page: (TaskStatus.CANCELLED, None) for page in (5, 7, 9)},
    }
    for task_id in waiting[1:]:
        ingestion.run_task(runtime, task_id)
    assert document(account, dataset_id, document_id)["run"] == "FAIL"
    assert runtime.chunks.counts(document_id=document_id).chunks == 0


def test_reparse_never_mixes_in_the_old_parse(queued: tuple[Account, Runtime]) -> None:
    account, runtime = queued
    dataset_id, document_id = start_split_parse(account, runtime, sample_pdf(seed=1))
    slow, *old_tasks = queued_ids(runtime, document_id)
    with runtime.transaction() as session:  # a worker took pages 3-4 and is still busy
        slow_claim = tasks.claim(session, slow, "slow-worker:1", lease_ms=60_000)
        assert slow_claim is not None
    with runtime.read() as session:
        blob_key = session.get_one(Document, document_id).blob_key
    runtime.blobs.put(blob_key, sample_pdf())  # the file changed: parse it again
    assert stop(account, dataset_id, [document_id]) == {"code": 0}
    assert parse(account, dataset_id, [document_id]) == {"code": 0}
    [first] = queued_ids(runtime, document_id)
    ingestion.run_task(runtime, first)
    with pytest.raises(ingestion.Cancelled):  # the busy worker learns at its next step
        ingestion.DocumentJob(runtime, slow_claim, "slow-worker:1").run()
    for task_id in old_tasks + queued_ids(runtime, document_id):
        ingestion.run_task(runtime, task_id)
    assert document(account, dataset_id, document_id)["run"] == "DONE"
    assert chunk_rows(runtime, document_id) == reference_chunks(account, runtime, dataset_id)
    assert all(r.result is None for r in task_rows(runtime, document_id))


def expire(runtime: Runtime, task_id: str) -> None:
    """Claim the task as a worker that then dies: its lease runs out without a renewal."""
    with runtime.transaction() as session:
        assert tasks.claim(session, task_id, "dead-worker:1", lease_ms=1) is not None
    time.sleep(0.01)


def test_a_range_whose_worker_died_is_retried(queued: tuple[Account, Runtime]) -> None:
    account, runtime = queued
    dataset_id, document_id = start_split_parse(account, runtime, sample_pdf())
    victim, *others = queued_ids(runtime, document_id)
    expire(runtime, victim)
    for task_id in others:
        ingestion.run_task(runtime, task_id)
    assert document(account, dataset_id, document_id)["run"] == "RUNNING"
    ingestion.requeue_expired(runtime)  # what the reaper does every minute
    assert victim in queued_ids(runtime, document_id)
    ingestion.run_task(runtime, victim)
    doc = document(account, dataset_id, document_id)
    assert (doc["run"], doc["progress_msg"].splitlines()[-1][-9:]) == ("DONE", "Task done")
    assert chunk_rows(runtime, document_id) == reference_chunks(account, runtime, dataset_id)


def test_a_range_out_of_attempts_fails_the_document(queued: tuple[Account, Runtime]) -> None:
    account, runtime = queued
    dataset_id, document_id = start_split_parse(account, runtime, sample_pdf())
    victim, *others = queued_ids(runtime, document_id)
    for _attempt in range(runtime.settings.task_attempts):
        expire(runtime, victim)
        ingestion.requeue_expired(runtime)
    doc = document(account, dataset_id, document_id)
    assert doc["run"] == "FAIL"
    assert doc["progress_msg"].endswith(
        f"[ERROR] The worker stopped {runtime.settings.task_attempts} times on pages 3-4 of "
        "this document."
    )
    assert {r.status for r in task_rows(runtime, document_id) if r.id in others} == {
        TaskStatus.CANCELLED
    }
    assert all(r.result is None for r in task_rows(runtime, document_id))
