"""RAPTOR in a real server with a worker process: the dataset task runs on the worker, and a
worker killed (``kill -9``) in the middle of it is replaced, the task is taken up again once
its lease runs out, and it ends with each summary written once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from api.conftest import DOCS
from e2e.test_worker_tasks import Api
from helpers.fake_openai import FakeOpenAI
from helpers.server import running_server

pytestmark = pytest.mark.e2e


def summary_calls(fake: FakeOpenAI) -> int:
    return sum(
        1
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith("Please summarize")
    )


def trace(api: Api, dataset_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.call("GET", f"/datasets/{dataset_id}/trace_raptor")
    return data


def test_a_worker_killed_mid_task_is_replaced_and_the_task_finishes(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env = {
            **fake.server_env("held"),  # every model call waits for release()
            "RAGSERVE_WORKERS": "1",
            "RAGSERVE_TASK_LEASE": "3",
        }
        with running_server(tmp_path / "home", env) as server:
            api = Api(server)
            try:
                dataset_id = api.call("POST", "/datasets", json={"name": "tree"})["id"]
                ids = [api.upload(dataset_id, n, t.encode()) for n, t in DOCS.items()]
                api.parse(dataset_id, *ids)
                for document_id in ids:
                    assert api.wait(dataset_id, document_id, 120)["run"] == "DONE"
                task_id = api.call("POST", f"/datasets/{dataset_id}/run_raptor")["raptor_task_id"]
                fake.wait_held(1)  # the worker is inside the task, waiting for the model
                port = int(fake.base_url.rsplit(":", 1)[1].split("/")[0])
                holding = [
                    p
                    for p in psutil.Process(server.process.pid).children(recursive=True)
                    if any(c.raddr and c.raddr[1] == port for c in p.net_connections())
                ]
                assert len(holding) == 1, holding
                holding[0].kill()
                fake.release()  # the killed worker's call is answered to no one
                deadline = time.monotonic() + 120
                while (row := trace(api, dataset_id))["progress"] not in (1.0, -1.0):
                    assert time.monotonic() < deadline, row
                    time.sleep(0.3)
                chunks = api.call(
                    "POST",
                    "/retrieval",
                    json={"dataset_ids": [dataset_id], "question": "cranes turbofan dough"},
                )["chunks"]
            finally:
                api.client.close()
    assert (row["id"], row["progress"]) == (task_id, 1.0), row["progress_msg"]
    assert row["retry_count"] == 1
    written = row["chunk_ids"].split()
    assert len(written) == 2
    summaries = [c["id"] for c in chunks if c["content"].startswith("Fake answer to:")]
    assert sorted(summaries) == sorted(written)  # each once: nothing left of the killed run
    assert summary_calls(fake) >= 3
