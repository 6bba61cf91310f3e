"""``ragserve migrate-store --to postgresql://…``: an embedded install's chunks and vectors move
to PgChunkStore without parsing or embedding again; a server on the moved store retrieves the
same chunks; running it again copies only what is missing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.processes import stop
from helpers.server import (
    RunningServer,
    free_port,
    ragserve,
    running_server,
    server_env,
    wait_until_healthy,
)
from ragserve.store.postgres import PgChunkStore

pytestmark = pytest.mark.e2e

DOCUMENTS = {
    "walrus.txt": "The walrus is a large flippered marine mammal. Its tusks haul it onto the ice.",
    "owl.txt": "Owls hunt at night. Their soft feathers make their flight silent.",
    "bread.txt": "Bake bread in a hot oven. A sourdough loaf needs a long rise.",
}
QUESTIONS = ["walrus tusks", "how do owls hunt", "sourdough loaf", "marine mammal ice"]


def retrieve(client: httpx.Client, dataset_id: str, weight: float) -> list[list[str]]:
    """The ids of the chunks found for each question (hybrid, or vector only at weight 1)."""
    found = []
    for question in QUESTIONS:
        body = client.post(
            "/api/v1/retrieval",
            json={
                "question": question,
                "dataset_ids": [dataset_id],
                "vector_similarity_weight": weight,
                "similarity_threshold": 0.0,
            },
        ).json()
        assert body["code"] == 0, body
        found.append([chunk["id"] for chunk in body["data"]["chunks"]])
    return found


def migrate(home: Path, to: str) -> str:
    done = ragserve("migrate-store", "--to", to, env=server_env(home), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_migrate_store_moves_chunks_and_vectors_and_a_server_on_postgresql_finds_them(
    tmp_path: Path, pgvector_url: str
) -> None:
    home = tmp_path / "home"
    with (
        running_server(home, {"RAGSERVE_WORKERS": "0"}) as server,
        client_for(server) as client,
    ):
        dataset_id = call(client, "POST", "/datasets", json={"name": "mixed"})["id"]
        uploaded = call(
            client,
            "POST",
            f"/datasets/{dataset_id}/documents",
            files=[("file", (name, text.encode())) for name, text in DOCUMENTS.items()],
        )
        ids = [document["id"] for document in uploaded]
        call(client, "POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": ids})
        deadline = time.monotonic() + 120
        while any(
            document["run"] != "DONE"
            for document in call(client, "GET", f"/datasets/{dataset_id}/documents")["docs"]
        ):
            assert time.monotonic() < deadline, "parsing did not finish"
            time.sleep(0.3)
        before = retrieve(client, dataset_id, 0.3), retrieve(client, dataset_id, 1.0)
        chunks_before = chunk_contents(client, dataset_id, ids)
        api_key = server.api_key
    assert all(before[0]) and all(before[1])

    assert (
        migrate(home, pgvector_url) == "1 datasets: 3 documents copied (3 chunks), 0 already there"
    )
    assert (
        migrate(home, pgvector_url) == "1 datasets: 0 documents copied (0 chunks), 3 already there"
    )
    store = PgChunkStore(pgvector_url)
    try:
        assert store.delete_document(ids[1]) == 1  # as if the copy had stopped before it
    finally:
        store.close()
    assert (
        migrate(home, pgvector_url) == "1 datasets: 1 documents copied (1 chunks), 2 already there"
    )

    moved = start_server(
        home, api_key, {"RAGSERVE_WORKERS": "0", "RAGSERVE_CHUNK_STORE_URL": pgvector_url}
    )
    try:
        with client_for(moved) as client:
            status = client.get("/v1/system/status").json()
            assert status["data"]["doc_engine"]["type"] == "postgresql", status
            after = retrieve(client, dataset_id, 0.3), retrieve(client, dataset_id, 1.0)
            assert chunk_contents(client, dataset_id, ids) == chunks_before
    finally:
        stop(moved.process)
    assert after[1] == before[1]  # the same vectors: the same nearest chunks, in order
    assert [found[0] for found in after[0]] == [found[0] for found in before[0]]
    assert [sorted(found) for found in after[0]] == [sorted(found) for found in before[0]]


def client_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=60
    )


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    body = client.request(method, "/api/v1" + path, **kwargs).json()
    assert body["code"] == 0, body
    return body.get("data")


def chunk_contents(client: httpx.Client, dataset_id: str, ids: list[str]) -> list[list[str]]:
    return [
        [
            chunk["content"]
            for chunk in call(client, "GET", f"/datasets/{dataset_id}/documents/{id_}/chunks")[
                "chunks"
            ]
        ]
        for id_ in ids
    ]


def start_server(home: Path, api_key: str, env: dict[str, str]) -> RunningServer:
    """``ragserve serve`` again on an existing home (its user and token exist)."""
    port = free_port()
    with (home / "server-moved.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragserve", "serve", "--port", str(port)],
            env=server_env(home, env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", api_key, home, process)
    try:
        wait_until_healthy(server)
    except BaseException:
        stop(process)
        raise
    return server


@pytest.mark.parametrize(
    ("to", "exit_code", "says"),
    [
        ("mysql://127.0.0.1/chunks", 2, "chunk_store_url must be a postgresql:// URL"),
        ("postgresql://nobody@127.0.0.1:1/chunks", 1, "Connection refused"),
    ],
)
def test_migrate_store_refuses_an_unusable_target_in_one_line(
    tmp_path: Path, to: str, exit_code: int, says: str
) -> None:
    home = tmp_path / "home"
    with running_server(home, {"RAGSERVE_WORKERS": "0"}):
        pass  # an embedded install (its chunks.db) to move
    done = ragserve("migrate-store", "--to", to, env=server_env(home))
    assert done.returncode == exit_code, done.stderr
    errors = [line for line in done.stderr.splitlines() if line and not line[:4].isdigit()]
    assert len(errors) == 1 and says in errors[0], done.stderr


def test_migrate_store_needs_an_embedded_store(tmp_path: Path, pgvector_url: str) -> None:
    done = ragserve("migrate-store", "--to", pgvector_url, env=server_env(tmp_path / "none"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: no embedded chunk store in {tmp_path / 'none'}"
