"""A graceful shutdown mid-parse gives the running tasks back to the queue at once; after a
restart they finish without waiting for their leases to run out."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from e2e.test_worker_tasks import Api
from helpers.processes import stop
from helpers.server import RunningServer, free_port, running_server, wait_until_healthy
from ragserve.domain import RunState

pytestmark = pytest.mark.e2e

LEASE_S = 900  # far longer than the test: a task recovered through its lease fails the test
ENV = {"RAGSERVE_WORKERS": "2", "RAGSERVE_TASK_LEASE": str(LEASE_S)}
RELEASED = "The worker was stopped (shutdown); the task is queued again."


def long_text(seed: int, sentences: int = 3000) -> bytes:
    """Text that makes a few thousand small chunks: a parse that embeds for a while."""
    rng = random.Random(seed)
    words = [f"w{rng.randrange(50_000)}" for _ in range(4000)]
    lines = (" ".join(rng.choices(words, k=12)) + "." for _ in range(sentences))
    return "\n".join(lines).encode()


def stored(home: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(id, run, progress_msg) of every document and the status of every task, from the files
    of a stopped server."""
    with sqlite3.connect(home / "ragserve.db") as db:
        documents = db.execute("SELECT id, run, progress_msg FROM document ORDER BY id").fetchall()
        statuses = [row[0] for row in db.execute("SELECT status FROM ingest_task")]
    db.close()
    return documents, statuses


def restart(server: RunningServer) -> RunningServer:
    port = free_port()
    log = (server.home / "server-2.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ragserve", "serve", "--port", str(port)],
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    again = RunningServer(
        f"http://127.0.0.1:{port}", server.api_key, server.home, process, server.env
    )
    wait_until_healthy(again)
    return again


def test_sigterm_mid_parse_gives_the_tasks_back_and_a_restart_finishes_them(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path / "home", ENV) as server:
        api = Api(server)
        dataset_id = api.call(
            "POST", "/datasets", json={"name": "restart", "parser_config": {"chunk_token_num": 32}}
        )["id"]
        documents = [api.upload(dataset_id, f"long-{n}.txt", long_text(n)) for n in range(2)]
        api.parse(dataset_id, *documents)
        deadline = time.monotonic() + 120
        while not all(
            "Embedded" in api.document(dataset_id, document)["progress_msg"]
            for document in documents
        ):
            assert time.monotonic() < deadline, "the parses never started embedding"
            time.sleep(0.2)
        api.client.close()
        workers = psutil.Process(server.process.pid).children(recursive=True)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
        _gone, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive
    rows, statuses = stored(server.home)
    assert sorted(statuses) == ["queued", "queued"]
    for _id, run, log in rows:
        assert run == RunState.RUNNING
        assert log.endswith(RELEASED), log
        assert "Task done" not in log

    again = restart(server)
    try:
        api = Api(again)
        started = time.monotonic()
        for document in documents:
            done = api.wait(dataset_id, document, 240)
            assert done["run"] == "DONE", done["progress_msg"]
            assert done["chunk_count"] > 300
            log = done["progress_msg"]
            assert RELEASED in log and log.endswith("Task done")
            assert "stopped 1 times" not in log
        assert time.monotonic() - started < LEASE_S
    finally:
        api.client.close()  # also when an assertion failed: no socket left to a later test
        stop(again.process)
