"""The pipelined worker (embedding in a thread of its own while the task's thread tokenizes and
reports) on real worker processes: a cancel mid-embedding, a kill -9 mid-embedding recovered
through the lease with the exact chunks, and a parse run again giving exactly the same chunks."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from e2e.test_worker_restart import long_text
from e2e.test_worker_tasks import WORKER_ENV, Api, worker_processes
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

CONFIG = {"chunk_token_num": 32}
SENTENCES = 1200  # ~ 500 small chunks: a few seconds of embedding


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("pipeline") / "home", WORKER_ENV) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    api = Api(server)
    yield api
    api.client.close()


def chunks(api: Api, dataset_id: str, document_id: str) -> list[tuple[str, str]]:
    """(id, content) of every chunk of the document, in order."""
    data = api.call(
        "GET",
        f"/datasets/{dataset_id}/documents/{document_id}/chunks",
        params={"page_size": 5000},
    )
    return [(chunk["id"], chunk["content"]) for chunk in data["chunks"]]


def wait_embedding(api: Api, dataset_id: str, document_id: str) -> None:
    deadline = time.monotonic() + 120
    while "Embedded" not in api.document(dataset_id, document_id)["progress_msg"]:
        assert time.monotonic() < deadline, "the parse never started embedding"
        time.sleep(0.05)


def test_cancel_mid_embedding_stops_the_task_and_a_parse_again_is_exact(api: Api) -> None:
    dataset_id = api.call("POST", "/datasets", json={"name": "cancel", "parser_config": CONFIG})[
        "id"
    ]
    text = long_text(11, SENTENCES)
    reference = api.upload(dataset_id, "reference.txt", text)
    api.parse(dataset_id, reference)
    assert api.wait(dataset_id, reference, 180)["run"] == "DONE"
    expected = [content for _id, content in chunks(api, dataset_id, reference)]
    assert len(expected) > 300

    document = api.upload(dataset_id, "cancelled.txt", text)
    api.parse(dataset_id, document)
    wait_embedding(api, dataset_id, document)
    api.call("DELETE", f"/datasets/{dataset_id}/chunks", json={"document_ids": [document]})
    assert api.wait(dataset_id, document, 10)["run"] == "CANCEL"
    time.sleep(2)  # the worker notices at its next batch and writes nothing
    after = api.document(dataset_id, document)
    assert (after["run"], after["chunk_count"]) == ("CANCEL", 0)
    assert "Task done" not in after["progress_msg"]
    assert chunks(api, dataset_id, document) == []

    # The worker lives on, and a parse run again (twice) gives exactly the reference's chunks.
    for _ in range(2):
        api.parse(dataset_id, document)
        done = api.wait(dataset_id, document, 180)
        assert done["run"] == "DONE", done["progress_msg"]
        assert [content for _id, content in chunks(api, dataset_id, document)] == expected
        assert done["chunk_count"] == len(expected)


def test_kill_9_mid_embedding_is_finished_by_a_new_worker_with_the_exact_chunks(
    api: Api, server: RunningServer
) -> None:
    dataset_id = api.call("POST", "/datasets", json={"name": "kill", "parser_config": CONFIG})["id"]
    text = long_text(12, SENTENCES)
    reference = api.upload(dataset_id, "reference.txt", text)
    api.parse(dataset_id, reference)
    assert api.wait(dataset_id, reference, 180)["run"] == "DONE"
    expected = [content for _id, content in chunks(api, dataset_id, reference)]

    document = api.upload(dataset_id, "killed.txt", text)
    api.parse(dataset_id, document)
    wait_embedding(api, dataset_id, document)
    victims = worker_processes(server)
    assert victims
    for victim in victims:
        os.kill(victim.pid, signal.SIGKILL)
    done = api.wait(dataset_id, document, 180)
    log = done["progress_msg"]
    assert done["run"] == "DONE", log
    assert log.endswith("Task done") and log.count("Task has been received.") == 2, log
    got = chunks(api, dataset_id, document)
    assert [content for _id, content in got] == expected
    assert done["chunk_count"] == len(expected) == len({chunk_id for chunk_id, _ in got})
