"""The scale-out settings from the README's install, on real processes: a server and its worker
with the queue on Redis and the chunks on PostgreSQL + pgvector parse and retrieve; a
malformed or unreachable URL stops ``serve`` and ``worker`` with one line naming the setting."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from helpers.server import free_port, running_server, server_env

pytestmark = pytest.mark.e2e

REDIS = "redis://127.0.0.1:6379"
TEXT = (
    "The walrus is a large flippered marine mammal of the Arctic Ocean. "
    "Its tusks help it haul out of the water onto the ice."
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A database of the local Redis server (the one CI starts), emptied afterwards."""
    client = redis.Redis.from_url(REDIS + "/0")
    try:
        client.ping()
        used = {int(name[2:]) for name in client.info("keyspace")}
        database = next(n for n in range(15, 0, -1) if n not in used)
    finally:
        client.close()
    url = f"{REDIS}/{database}"
    yield url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def start(command: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ragserve <command>`` as a user would start it; it is expected to stop by itself."""
    args = ["serve", "--port", str(free_port())] if command == "serve" else ["worker"]
    return subprocess.run(
        [sys.executable, "-m", "ragserve", *args],
        env=server_env(home, {"RAGSERVE_WORKERS": "0", **env}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines less the log lines (``2026-… INFO …``) printed before the failure."""
    return [line for line in done.stderr.splitlines() if line and not line[:4].isdigit()]


UNUSABLE = [
    ("serve", "QUEUE_URL", "redis://127.0.0.1:1/0", 1, "Connection refused"),
    ("serve", "QUEUE_URL", "http://127.0.0.1:6379/0", 2, "must be a redis://"),
    ("serve", "CHUNK_STORE_URL", "postgresql://nobody@127.0.0.1:1/chunks", 1, "Connection refused"),
    ("serve", "CHUNK_STORE_URL", "mysql://127.0.0.1/chunks", 2, "must be a postgresql:// URL"),
    ("serve", "DATABASE_URL", "postgresql://nobody@127.0.0.1:1/meta", 1, "Connection refused"),
    ("serve", "DATABASE_URL", "nosuchdb://127.0.0.1/meta", 1, "not a usable database URL"),
    ("worker", "QUEUE_URL", "redis://127.0.0.1:1/0", 1, "Connection refused"),
    ("worker", "CHUNK_STORE_URL", "postgresql://nobody@127.0.0.1:1/c", 1, "Connection refused"),
]


@pytest.mark.parametrize(("command", "setting", "value", "exit_code", "says"), UNUSABLE)
def test_an_unusable_url_stops_start_up_with_one_line_naming_the_setting(
    tmp_path: Path, command: str, setting: str, value: str, exit_code: int, says: str
) -> None:
    done = start(command, tmp_path / "home", {f"RAGSERVE_{setting}": value})

    assert done.returncode == exit_code, done.stderr
    lines = error_lines(done)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(("Error: ", "Invalid settings: ")), lines
    assert setting.lower() in lines[0] and says in lines[0], lines
    assert "Traceback" not in done.stderr


def test_a_server_and_worker_on_redis_and_postgresql_parse_and_retrieve(
    tmp_path: Path, redis_url: str, pgvector_url: str
) -> None:
    env = {
        "RAGSERVE_QUEUE_URL": redis_url,
        "RAGSERVE_CHUNK_STORE_URL": pgvector_url,
        "RAGSERVE_WORKERS": "1",
    }
    with (
        running_server(tmp_path / "home", env) as server,
        httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=60,
        ) as client,
    ):
        created = client.post("/api/v1/datasets", json={"name": "walruses"}).json()
        dataset_id = created["data"]["id"]
        uploaded = client.post(
            f"/api/v1/datasets/{dataset_id}/documents",
            files=[("file", ("walrus.txt", TEXT.encode()))],
        ).json()
        document_id = uploaded["data"][0]["id"]
        parsed = client.post(
            f"/api/v1/datasets/{dataset_id}/chunks", json={"document_ids": [document_id]}
        ).json()
        assert parsed["code"] == 0, parsed

        deadline = time.monotonic() + 120
        run = ""
        while time.monotonic() < deadline and run not in {"DONE", "FAIL"}:
            listed = client.get(
                f"/api/v1/datasets/{dataset_id}/documents", params={"id": document_id}
            ).json()
            run = listed["data"]["docs"][0]["run"]
            time.sleep(0.3)
        assert run == "DONE", listed

        found = client.post(
            "/api/v1/retrieval", json={"question": "walrus tusks", "dataset_ids": [dataset_id]}
        ).json()
        assert found["code"] == 0, found
        assert found["data"]["chunks"] and "walrus" in found["data"]["chunks"][0]["content"]
        health = client.get("/v1/system/healthz").json()
        assert health["doc_engine"] == health["queue"] == "ok", health
        status = client.get("/v1/system/status", headers=client.headers).json()
        assert status["data"]["doc_engine"]["type"] == "postgresql", status
        assert status["data"]["queue"]["type"] == "redis", status


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_s3_endpoint_stops_start_up(tmp_path: Path, command: str) -> None:
    done = start(
        command,
        tmp_path / "home",
        {
            "RAGSERVE_BLOB_BACKEND": "s3",
            "RAGSERVE_S3_BUCKET": "files",
            "RAGSERVE_S3_ENDPOINT_URL": "http://127.0.0.1:1",
            "RAGSERVE_S3_ACCESS_KEY_ID": "key",
            "RAGSERVE_S3_SECRET_ACCESS_KEY": "secret",
        },
    )

    assert done.returncode == 1, done.stderr
    assert error_lines(done) == [
        "Error: s3_endpoint_url: bucket 'files' is not usable: Could not connect to the "
        'endpoint URL: "http://127.0.0.1:1/files"'
    ], done.stderr
