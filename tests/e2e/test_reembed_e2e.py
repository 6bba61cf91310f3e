"""Re-embedding in a real server with a worker process: a re-embedding cancelled while the
worker waits for the (held) API model leaves the dataset on its old model and vectors; then
``ragserve dataset reembed --wait`` switches it to the int8 builtin model, showing progress,
with the same answers. A SIGTERM'd worker gives the task back; after a restart it finishes."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from api.test_reembed import CORPUS, OLD, Q8, QUESTIONS, VECTORS_ONLY
from e2e.test_client_cli_e2e import as_json, cli
from e2e.test_worker_restart import restart
from e2e.test_worker_tasks import Api
from helpers.fake_openai import FakeOpenAI
from helpers.processes import stop
from helpers.server import running_server

pytestmark = pytest.mark.e2e

API_MODEL = "fake-embed@OpenAI-API-Compatible"


def answers(api: Api, dataset_id: str) -> dict[str, list[tuple[str, float]]]:
    found = {}
    for question in QUESTIONS:
        body = {"dataset_ids": [dataset_id], "question": question, **VECTORS_ONLY}
        chunks = api.call("POST", "/retrieval", json=body)["chunks"]
        found[question] = [(c["id"], round(c["vector_similarity"], 5)) for c in chunks[:3]]
    return found


def status(api: Api, dataset_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.call("GET", f"/datasets/{dataset_id}/reembed")
    return data


def model_of(api: Api, dataset_id: str) -> str:
    return str(api.call("GET", "/datasets", params={"id": dataset_id})[0]["embedding_model"])


def settle(fake: FakeOpenAI) -> None:
    """Wait until the fake has had no request for a second (the worker stopped calling)."""
    count, since = len(fake.requests), time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < 1.0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        if len(fake.requests) != count:
            count, since = len(fake.requests), time.monotonic()


def test_cancel_keeps_the_old_model_and_the_cli_switches_it(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env = {
            **fake.server_env("held"),  # the API model's calls wait for release()
            "RAGSERVE_DEFAULT_EMBEDDING_MODEL": API_MODEL,
            "RAGSERVE_EMBEDDING_BATCH_SIZE": "2",
            "RAGSERVE_WORKERS": "1",
        }
        with running_server(tmp_path / "home", env) as server:
            api = Api(server)
            try:
                body = {"name": "old", "embedding_model": OLD}
                dataset_id = api.call("POST", "/datasets", json=body)["id"]
                ids = [api.upload(dataset_id, n, t.encode()) for n, t in CORPUS.items()]
                api.parse(dataset_id, *ids)
                for document_id in ids:
                    assert api.wait(dataset_id, document_id, 120)["run"] == "DONE"
                before = answers(api, dataset_id)

                queued = api.call(
                    "POST", f"/datasets/{dataset_id}/reembed", json={"embedding_model": API_MODEL}
                )
                assert queued["embedding_model"] == API_MODEL
                fake.wait_held(1)  # the worker is inside the task, embedding its first batch
                assert 0 <= status(api, dataset_id)["progress"] < 1
                api.call("DELETE", f"/datasets/{dataset_id}/reembed")
                fake.release()
                settle(fake)
                cancelled = status(api, dataset_id)
                assert model_of(api, dataset_id) == OLD
                assert answers(api, dataset_id) == before  # the old vectors, untouched

                home = tmp_path / "xdg"
                home.mkdir()
                login = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
                done = cli(home, "dataset", "reembed", dataset_id, "--model", Q8, "--wait", **login)
                shown = as_json(cli(home, "dataset", "reembed-status", "old", "--json", **login))
                after = answers(api, dataset_id)
                switched = model_of(api, dataset_id)
            finally:
                api.client.close()
    assert (cancelled["id"], cancelled["progress"]) == (queued["reembed_task_id"], -1.0)
    assert done.returncode == 0, done.stderr
    assert f"Re-embedded {dataset_id} with {Q8}." in done.stdout
    assert f"Embedded {len(CORPUS)}/{len(CORPUS)} chunks." in done.stderr
    assert "Re-embedding done." in done.stderr
    assert shown[0]["state"] == "DONE" and shown[0]["embedding_model"] == Q8
    assert switched == Q8
    assert {q: [i for i, _ in hits] for q, hits in after.items()} == {
        q: [i for i, _ in hits] for q, hits in before.items()
    }


def test_sigterm_gives_the_reembedding_back_and_a_restart_finishes_it(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env = {
            **fake.server_env("held"),
            "RAGSERVE_DEFAULT_EMBEDDING_MODEL": API_MODEL,
            "RAGSERVE_EMBEDDING_BATCH_SIZE": "2",
            "RAGSERVE_WORKERS": "1",
            "RAGSERVE_TASK_LEASE": "900",  # a task recovered through its lease fails the test
        }
        with running_server(tmp_path / "home", env) as server:
            api = Api(server)
            body = {"name": "old", "embedding_model": OLD}
            dataset_id = api.call("POST", "/datasets", json=body)["id"]
            ids = [api.upload(dataset_id, n, t.encode()) for n, t in CORPUS.items()]
            api.parse(dataset_id, *ids)
            for document_id in ids:
                assert api.wait(dataset_id, document_id, 120)["run"] == "DONE"
            before = answers(api, dataset_id)
            body = {"embedding_model": API_MODEL}
            task_id = api.call("POST", f"/datasets/{dataset_id}/reembed", json=body)[
                "reembed_task_id"
            ]
            fake.wait_held(1)
            api.client.close()
            workers = psutil.Process(server.process.pid).children(recursive=True)
            server.process.send_signal(signal.SIGTERM)
            fake.release()  # the call under way returns; the worker is stopping anyway
            assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
            _gone, alive = psutil.wait_procs(workers, timeout=60)
            assert not alive
        with sqlite3.connect(server.home / "ragserve.db") as db:
            status_, log = db.execute(
                "SELECT status, progress_msg FROM dataset_task WHERE id = ?", (task_id,)
            ).fetchone()
            [model] = db.execute(
                "SELECT embedding_model FROM dataset WHERE id = ?", (dataset_id,)
            ).fetchone()
        db.close()
        assert (status_, model) == ("queued", OLD), log
        assert log.endswith("The worker was stopped; queued again."), log

        again = restart(server)
        api = Api(again)
        try:
            deadline = time.monotonic() + 120
            while (row := status(api, dataset_id))["progress"] not in (1.0, -1.0):
                assert time.monotonic() < deadline, row
                time.sleep(0.3)
            switched = model_of(api, dataset_id)
            after = answers(api, dataset_id)
        finally:
            api.client.close()
            stop(again.process)
    assert row["progress"] == 1.0, row["progress_msg"]
    assert switched == API_MODEL
    assert row["retry_count"] == 0  # given back, not lost: the attempt did not count
    assert set(after) == set(before)


def test_a_chunk_edited_meanwhile_is_embedded_again_before_the_switch(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env = {
            **fake.server_env("held"),
            "RAGSERVE_DEFAULT_EMBEDDING_MODEL": API_MODEL,
            "RAGSERVE_WORKERS": "1",
        }
        with running_server(tmp_path / "home", env) as server:
            api = Api(server)
            try:
                body = {"name": "old", "embedding_model": OLD}
                dataset_id = api.call("POST", "/datasets", json=body)["id"]
                document_id = api.upload(dataset_id, "cranes.md", CORPUS["cranes.md"].encode())
                api.parse(dataset_id, document_id)
                assert api.wait(dataset_id, document_id, 120)["run"] == "DONE"
                chunks = f"/datasets/{dataset_id}/documents/{document_id}/chunks"
                [chunk] = api.call("GET", chunks)["chunks"]
                body = {"embedding_model": API_MODEL}
                api.call("POST", f"/datasets/{dataset_id}/reembed", json=body)
                fake.wait_held(1)  # its one chunk is being embedded with the API model
                edited = "Sandhill cranes dance in spring."
                api.call("PUT", f"{chunks}/{chunk['id']}", json={"content": edited})
                fake.release()
                deadline = time.monotonic() + 120
                while (row := status(api, dataset_id))["progress"] not in (1.0, -1.0):
                    assert time.monotonic() < deadline, row
                    time.sleep(0.3)
                embedded = [r.body["input"] for r in fake.requests if r.path == "/v1/embeddings"]
                found = api.call(
                    "POST",
                    "/retrieval",
                    json={"dataset_ids": [dataset_id], "question": "dance", **VECTORS_ONLY},
                )["chunks"]
            finally:
                api.client.close()
    assert row["progress"] == 1.0, row["progress_msg"]
    assert "Chunks changed meanwhile: embedding those again." in row["progress_msg"]
    assert any(edited in texts for texts in embedded), embedded  # the new text, new model
    assert [c["content"] for c in found] == [edited]
