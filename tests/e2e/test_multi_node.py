"""A multi-node deployment on real processes: two API-only servers (``workers = 0`` with a Redis
``queue_url``) and two ``ragserve worker`` processes sharing PostgreSQL (metadata, and chunks
with pgvector), S3 (a moto server) and Redis. Files go in through one server and are parsed by
the workers only; a worker killed with ``kill -9`` mid-parse and a killed API server lose,
duplicate or strand nothing: retrieval and chat through the other server find every document."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
import psycopg
import pytest
import redis

from e2e.test_scale_out_settings import redis_url  # noqa: F401 (a fixture)
from helpers.fake_openai import FakeOpenAI
from helpers.moto import S3_KEY_ID, S3_REGION, S3_SECRET
from helpers.pgvector import drop_database, new_database
from helpers.processes import stop
from helpers.server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    RunningServer,
    free_port,
    ragserve,
    server_env,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e

MARKERS = ["walrus", "narwhal", "pelican", "armadillo", "mongoose", "platypus"]
LEASE_S = 4  # a killed worker's task is queued again this long after its last renewal
WAIT_S = 150  # the survivor's reaper runs every minute: a recovered parse takes up to ~70 s
CHUNKING = {"chunk_token_num": 32}


def text(marker: str, seed: int, sentences: int = 120) -> bytes:
    """A document of a few hundred small chunks whose first chunk names ``marker``."""
    rng = random.Random(seed)
    words = [f"w{rng.randrange(50_000)}" for _ in range(3000)]
    lines = [f"The {marker} lives in this document."]
    lines += (" ".join(rng.choices(words, k=12)) + "." for _ in range(sentences))
    return "\n".join(lines).encode()


@pytest.fixture
def metadata_url(pgvector_database_url: str) -> Iterator[str]:
    """A metadata database on the pgvector fixture's server (the chunks use another one)."""
    server_url = pgvector_database_url.rsplit("/", 1)[0] + "/postgres"
    url = new_database(server_url)
    yield url
    drop_database(server_url, url)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    name = f"multinode-{os.getpid()}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=name)
    s3.close()
    return name


@contextmanager
def process(args: list[str], home: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``ragserve <args>`` with its own home (as on its own machine), stopped afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / "process.log").open("wb") as log:
        started = subprocess.Popen(
            [sys.executable, "-m", "ragserve", *args],
            env=server_env(home, env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield started
    finally:
        if started.poll() is None:
            stop(started)


def api_server(stack: ExitStack, home: Path, env: dict[str, str]) -> RunningServer:
    port = free_port()
    started = stack.enter_context(process(["serve", "--port", str(port)], home, env))
    server = RunningServer(f"http://127.0.0.1:{port}", "", home, started, server_env(home, env))
    try:
        wait_until_healthy(server)
    except RuntimeError:
        raise RuntimeError((home / "process.log").read_text(errors="replace")) from None
    return server


class Api:
    def __init__(self, server: RunningServer, api_key: str) -> None:
        self.client = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.client.request(method, "/api/v1" + path, **kwargs).json()
        assert body["code"] == 0, body
        return body.get("data")

    def documents(self, dataset_id: str) -> dict[str, dict[str, Any]]:
        data = self.call("GET", f"/datasets/{dataset_id}/documents", params={"page_size": 100})
        return {document["id"]: document for document in data["docs"]}

    def chunks(self, dataset_id: str, document_id: str) -> list[tuple[str, str]]:
        data = self.call(
            "GET",
            f"/datasets/{dataset_id}/documents/{document_id}/chunks",
            params={"page_size": 5000},
        )
        return [(chunk["id"], chunk["content"]) for chunk in data["chunks"]]


def task_rows(metadata_url: str) -> list[tuple[str, str, str, int]]:
    """(document id, status, worker id, attempts) of every ingest task."""
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT document_id, status, worker_id, attempts FROM ingest_task"
        ).fetchall()
    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in rows]


def kill_tree(pid: int) -> None:
    """``kill -9`` of a ``ragserve worker`` (the consumer) and every process it started."""
    parent = psutil.Process(pid)
    for victim in [*parent.children(recursive=True), parent]:
        os.kill(victim.pid, signal.SIGKILL)
    psutil.wait_procs([parent], timeout=10)


def test_two_api_servers_and_two_workers_lose_nothing_when_one_of_each_is_killed(
    tmp_path: Path,
    redis_url: str,  # noqa: F811 (the fixture imported above)
    pgvector_url: str,
    metadata_url: str,
    moto_endpoint: str,
    bucket: str,
) -> None:
    with FakeOpenAI() as fake, ExitStack() as stack:
        env = {
            "RAGSERVE_WORKERS": "0",  # with a queue_url: API only, the workers below parse
            "RAGSERVE_QUEUE_URL": redis_url,
            "RAGSERVE_DATABASE_URL": metadata_url,
            "RAGSERVE_CHUNK_STORE_URL": pgvector_url,
            "RAGSERVE_BLOB_BACKEND": "s3",
            "RAGSERVE_S3_BUCKET": bucket,
            "RAGSERVE_S3_ENDPOINT_URL": moto_endpoint,
            "RAGSERVE_S3_REGION": S3_REGION,
            "RAGSERVE_S3_ACCESS_KEY_ID": S3_KEY_ID,
            "RAGSERVE_S3_SECRET_ACCESS_KEY": S3_SECRET,
            "RAGSERVE_SECRET_KEY": "one-key-for-every-api-server",
            "RAGSERVE_TASK_LEASE": str(LEASE_S),
            **fake.server_env("sk-multinode"),
        }
        first = api_server(stack, tmp_path / "api-1", env)
        second = api_server(stack, tmp_path / "api-2", env)
        for args in (
            ("user", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD),
            ("token", "create", "--email", ADMIN_EMAIL),
        ):
            done = ragserve(*args, env=server_env(tmp_path / "admin", env))
            assert done.returncode == 0, done.stderr
        api_key = done.stdout.strip()
        upload = stack.enter_context(_closing(Api(first, api_key)))
        serve = stack.enter_context(_closing(Api(second, api_key)))

        dataset_id = upload.call(
            "POST", "/datasets", json={"name": "zoo", "parser_config": CHUNKING}
        )["id"]
        texts = {marker: text(marker, seed) for seed, marker in enumerate(MARKERS)}
        names = {}
        for marker, content in texts.items():
            [document] = upload.call(
                "POST",
                f"/datasets/{dataset_id}/documents",
                files=[("file", (f"{marker}.txt", content))],
            )
            names[document["id"]] = marker
        upload.call("POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": list(names)})

        # API-only servers queue in Redis and parse nothing themselves.
        with redis.Redis.from_url(redis_url) as queue:
            assert sum(queue.llen(key) for key in queue.keys("*") if queue.type(key) == b"list")
        assert {row[1] for row in task_rows(metadata_url)} == {"queued"}
        assert all(doc["chunk_count"] == 0 for doc in serve.documents(dataset_id).values())

        workers = [
            stack.enter_context(
                process(["worker", "--processes", "1"], tmp_path / f"worker-{n}", env)
            )
            for n in (1, 2)
        ]
        deadline = time.monotonic() + WAIT_S
        victim_document = ""
        while not victim_document:
            assert time.monotonic() < deadline, "no parse ever started embedding"
            for document_id, document in serve.documents(dataset_id).items():
                if "Embedded" in document["progress_msg"] and document["run"] == "RUNNING":
                    victim_document = document_id
                    break
            else:
                time.sleep(0.1)
        [victim_worker] = {
            worker
            for document_id, status, worker, _attempts in task_rows(metadata_url)
            if document_id == victim_document and status == "running"
        }
        victim_pid = int(victim_worker.rsplit(":", 1)[1])
        [killed] = [w for w in workers if victim_pid in _tree(w.pid)]
        kill_tree(killed.pid)
        os.kill(first.process.pid, signal.SIGKILL)  # the server the files came in through
        first.process.wait(timeout=10)

        while not all(doc["run"] == "DONE" for doc in serve.documents(dataset_id).values()):
            documents = serve.documents(dataset_id)
            assert time.monotonic() < deadline, {d["name"]: d["run"] for d in documents.values()}
            assert not any(doc["run"] in {"FAIL", "CANCEL"} for doc in documents.values())
            time.sleep(0.3)

        assert {row[1] for row in task_rows(metadata_url)} == {"done"}
        documents = serve.documents(dataset_id)
        # The task the killed worker held (normally victim_document's, unless that finished
        # just before the kill) ran twice: the killed run, then the survivor's.
        attempts = {row[0]: row[3] for row in task_rows(metadata_url)}
        recovered = [doc for doc, tries in attempts.items() if tries == 2]
        assert len(recovered) == 1 and set(attempts.values()) <= {1, 2}, attempts
        victim_document = recovered[0]
        for document_id, document in documents.items():
            chunks = serve.chunks(dataset_id, document_id)
            assert len(chunks) == document["chunk_count"] > 50
            assert len({chunk_id for chunk_id, _ in chunks}) == len(chunks)  # no duplicates
        dataset = serve.call("GET", "/datasets", params={"id": dataset_id})[0]
        assert dataset["chunk_count"] == sum(doc["chunk_count"] for doc in documents.values())

        # The killed worker's document has exactly the chunks of an undisturbed parse.
        again = serve.call("POST", "/datasets", json={"name": "again", "parser_config": CHUNKING})
        marker = names[victim_document]
        [copy] = serve.call(
            "POST",
            f"/datasets/{again['id']}/documents",
            files=[("file", (f"{marker}.txt", texts[marker]))],
        )
        serve.call("POST", f"/datasets/{again['id']}/chunks", json={"document_ids": [copy["id"]]})
        while serve.documents(again["id"])[copy["id"]]["run"] != "DONE":
            assert time.monotonic() < deadline + 60, "the copy was not parsed"
            time.sleep(0.3)
        assert sorted(c for _, c in serve.chunks(again["id"], copy["id"])) == sorted(
            c for _, c in serve.chunks(dataset_id, victim_document)
        )

        for document_id, marker in names.items():
            found = serve.call(
                "POST",
                "/retrieval",
                json={"question": f"{marker} lives", "dataset_ids": [dataset_id]},
            )
            top = found["chunks"][0]
            assert top["document_id"] == document_id and marker in top["content"], found

        chat = serve.call("POST", "/chats", json={"name": "zoo", "dataset_ids": [dataset_id]})
        answer = serve.client.post(
            f"/api/v1/chats_openai/{chat['id']}/chat/completions",
            json={
                "model": "m",
                "messages": [{"role": "user", "content": "Where does the narwhal live?"}],
                "stream": False,
                "reference": True,
            },
        ).json()
        assert answer["choices"][0]["message"]["content"].startswith("Fake answer to:"), answer
        cited = answer["choices"][0]["message"]["reference"]
        assert cited and cited[0]["document_name"] == "narwhal.txt", cited
        assert workers[0].poll() is None or workers[1].poll() is None  # the survivor lives on
        assert second.process.poll() is None


def _tree(pid: int) -> set[int]:
    parent = psutil.Process(pid)
    return {pid, *(child.pid for child in parent.children(recursive=True))}


@contextmanager
def _closing(api: Api) -> Iterator[Api]:
    try:
        yield api
    finally:
        api.client.close()
