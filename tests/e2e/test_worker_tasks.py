"""Parse tasks on real worker processes: PDFs split into page ranges (also when workers are
killed mid-parse), and the per-process memory limit (also for native code: a PDF bomb)."""

from __future__ import annotations

import os
import signal
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from api.test_parsing_pages import CHUNKING, sample_pdf
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

MEMORY_LIMIT_MB = 600
WORKER_ENV = {
    "RAGSERVE_WORKERS": "2",
    "RAGSERVE_TASK_LEASE": "3",
    "RAGSERVE_TASK_PAGE_SIZE": "2",
    "RAGSERVE_TASK_MEMORY_LIMIT": str(MEMORY_LIMIT_MB),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("tasks") / "home", WORKER_ENV) as running:
        yield running


class Api:
    def __init__(self, server: RunningServer) -> None:
        self.client = httpx.Client(
            base_url=server.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=120,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.client.request(method, path, **kwargs).json()
        assert body["code"] == 0, body
        return body.get("data")

    def dataset(self, name: str) -> str:
        data = self.call("POST", "/datasets", json={"name": name, "parser_config": CHUNKING})
        return str(data["id"])

    def upload(self, dataset_id: str, name: str, content: bytes, **config: Any) -> str:
        [document] = self.call(
            "POST", f"/datasets/{dataset_id}/documents", files=[("file", (name, content))]
        )
        if config:
            self.call(
                "PUT",
                f"/datasets/{dataset_id}/documents/{document['id']}",
                json={"parser_config": config},
            )
        return str(document["id"])

    def parse(self, dataset_id: str, *document_ids: str) -> None:
        self.call("POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": document_ids})

    def document(self, dataset_id: str, document_id: str) -> dict[str, Any]:
        data = self.call("GET", f"/datasets/{dataset_id}/documents", params={"id": document_id})
        result: dict[str, Any] = data["docs"][0]
        return result

    def wait(self, dataset_id: str, document_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document = self.document(dataset_id, document_id)
            if document["run"] in {"DONE", "FAIL", "CANCEL"}:
                return document
            time.sleep(0.3)
        raise AssertionError(f"{document_id} still {document['run']} after {timeout} s")

    def chunks(self, dataset_id: str, document_id: str) -> list[tuple[str, int]]:
        data = self.call(
            "GET",
            f"/datasets/{dataset_id}/documents/{document_id}/chunks",
            params={"page_size": 1000},
        )
        return [(chunk["content"], chunk["positions"][0][0]) for chunk in data["chunks"]]


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    api = Api(server)
    yield api
    api.client.close()


def worker_processes(server: RunningServer) -> list[psutil.Process]:
    """The huey processes: grandchildren of the server (server -> consumer -> workers)."""
    server_process = psutil.Process(server.process.pid)
    return [p for child in server_process.children() for p in child.children()]


def limited_workers(server: RunningServer) -> set[int]:
    limit = MEMORY_LIMIT_MB * 2**20
    return {p.pid for p in worker_processes(server) if p.rlimit(psutil.RLIMIT_DATA)[0] == limit}


def started_workers(server: RunningServer, count: int = 2) -> set[int]:
    """The limited worker processes, once ``count`` of them run (they start after the server)."""
    deadline = time.monotonic() + 30
    while len(workers := limited_workers(server)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return workers


def test_a_split_parse_on_workers_gives_the_chunks_of_one_task(api: Api) -> None:
    dataset_id = api.dataset("ranges")
    whole = api.upload(dataset_id, "whole.pdf", sample_pdf(), task_page_size=1000)
    split = api.upload(dataset_id, "split.pdf", sample_pdf())
    api.parse(dataset_id, whole, split)
    for document_id in (whole, split):
        assert api.wait(dataset_id, document_id, 120)["run"] == "DONE"
    expected = api.chunks(dataset_id, whole)
    assert len(expected) > 9 and api.chunks(dataset_id, split) == expected
    log = api.document(dataset_id, split)["progress_msg"]
    assert "Split into 5 tasks of up to 2 pages." in log and log.endswith("Task done")
    assert "Split into" not in api.document(dataset_id, whole)["progress_msg"]


def test_kill_9_of_the_workers_mid_split_parse_is_recovered(
    api: Api, server: RunningServer
) -> None:
    dataset_id = api.dataset("ranges-crash")
    data = sample_pdf(pages=40)
    split = api.upload(dataset_id, "split.pdf", data)
    api.parse(dataset_id, split)
    deadline = time.monotonic() + 60
    while "Split into" not in api.document(dataset_id, split)["progress_msg"]:
        assert time.monotonic() < deadline, "the parse was never split"
        time.sleep(0.1)
    victims = worker_processes(server)
    for victim in victims:
        os.kill(victim.pid, signal.SIGKILL)
    done = api.wait(dataset_id, split, 150)
    assert done["run"] == "DONE", done["progress_msg"]
    assert done["progress_msg"].endswith("Task done")
    whole = api.upload(dataset_id, "whole.pdf", data, task_page_size=1000)
    api.parse(dataset_id, whole)
    assert api.wait(dataset_id, whole, 120)["run"] == "DONE"
    assert api.chunks(dataset_id, split) == api.chunks(dataset_id, whole)
    assert done["chunk_count"] == len(api.chunks(dataset_id, whole))


def test_a_document_past_the_memory_limit_fails_and_the_worker_lives_on(
    api: Api, server: RunningServer
) -> None:
    workers = started_workers(server)
    assert len(workers) == 2, "every worker process has the limit"
    assert psutil.Process(server.process.pid).rlimit(psutil.RLIMIT_DATA)[0] != (
        MEMORY_LIMIT_MB * 2**20
    ), "the server process has no limit of its own"
    dataset_id = api.dataset("memory")
    # 40 MB of empty JSON objects: about 1 GB once read.
    huge = api.upload(dataset_id, "huge.json", b"[" + b"{}," * 14_000_000 + b"{}]")
    api.parse(dataset_id, huge)
    failed = api.wait(dataset_id, huge, 120)
    assert (failed["run"], failed["chunk_count"]) == ("FAIL", 0)
    assert failed["progress_msg"].endswith(
        "[ERROR] The document needs more memory than a worker may use."
    )
    small = api.upload(dataset_id, "small.txt", b"Shock waves form at supersonic speed.")
    api.parse(dataset_id, small)
    assert api.wait(dataset_id, small, 60)["run"] == "DONE"
    assert limited_workers(server) == workers  # the same processes: none died


def pdf_bomb(inflated: int = 2**30) -> bytes:
    """A one-page PDF whose content stream (zeros, about 1 MB compressed) inflates to
    ``inflated`` bytes."""
    deflate, block = zlib.compressobj(9), bytes(16 * 2**20)
    stream = b"".join(deflate.compress(block) for _ in range(inflated // len(block)))
    stream += deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(stream), stream),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_a_pdf_bomb_fails_on_the_first_try_and_the_worker_lives_on(
    api: Api, server: RunningServer
) -> None:
    """PDFium aborts the process (SIGABRT) when inflating the stream passes the memory limit: it
    does so in the parse's child process, and the document fails at once with the memory
    message, not after the worker died ``task_attempts`` times."""
    workers = started_workers(server)
    assert len(workers) == 2
    dataset_id = api.dataset("bomb")
    bomb = pdf_bomb()
    assert len(bomb) < 2 * 2**20
    document_id = api.upload(dataset_id, "bomb.pdf", bomb)
    api.parse(dataset_id, document_id)
    failed = api.wait(dataset_id, document_id, 60)
    log = failed["progress_msg"]
    assert (failed["run"], failed["chunk_count"]) == ("FAIL", 0), log
    assert log.endswith("[ERROR] The document needs more memory than a worker may use."), log
    assert log.count("Task has been received.") == 1, log  # the first try, no retry
    small = api.upload(dataset_id, "small.txt", b"Bombs are defused by experts.")
    api.parse(dataset_id, small)
    assert api.wait(dataset_id, small, 60)["run"] == "DONE"
    assert limited_workers(server) == workers  # the same processes: none died
