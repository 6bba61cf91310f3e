"""Parsing through the API with tasks run inline (``workers = 0``): states, messages, chunks."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Account
from ragserve.runtime import Runtime

TEXT = (
    "# Cranes\n\nCranes are large birds with long legs and necks.\n\n"
    "## Migration\n\nMany cranes migrate over long distances every year.\n"
)


def new_dataset(account: Account, **fields: Any) -> str:
    body = {"name": "parse", **fields}
    result = account.client.post("/api/v1/datasets", json=body, headers=account.api_headers)
    dataset_id: str = result.json()["data"]["id"]
    return dataset_id


def upload(account: Account, dataset_id: str, name: str, content: bytes) -> str:
    response = account.client.post(
        f"/api/v1/datasets/{dataset_id}/documents",
        files=[("file", (name, content))],
        headers=account.api_headers,
    )
    document_id: str = response.json()["data"][0]["id"]
    return document_id


def parse(account: Account, dataset_id: str, ids: Any) -> dict[str, Any]:
    response = account.client.post(
        f"/api/v1/datasets/{dataset_id}/chunks",
        json={"document_ids": ids},
        headers=account.api_headers,
    )
    result: dict[str, Any] = response.json()
    return result


def stop(account: Account, dataset_id: str, ids: Any) -> dict[str, Any]:
    response = account.client.request(
        "DELETE",
        f"/api/v1/datasets/{dataset_id}/chunks",
        json={"document_ids": ids},
        headers=account.api_headers,
    )
    result: dict[str, Any] = response.json()
    return result


def document(account: Account, dataset_id: str, document_id: str) -> dict[str, Any]:
    docs = account.client.get(
        f"/api/v1/datasets/{dataset_id}/documents",
        params={"id": document_id},
        headers=account.api_headers,
    ).json()["data"]["docs"]
    result: dict[str, Any] = docs[0]
    return result


def test_parse_reaches_done_with_chunks(alice: Account, runtime: Runtime) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    doc = document(alice, dataset_id, document_id)
    assert (doc["run"], doc["progress"]) == ("DONE", 1.0)
    assert doc["chunk_count"] > 0 and doc["token_count"] > 0
    assert doc["progress_msg"].splitlines()[-1].endswith("Task done")
    assert doc["process_begin_at"] and doc["process_duration"] >= 0
    counts = runtime.chunks.counts(document_id=document_id)
    assert (counts.chunks, counts.tokens) == (doc["chunk_count"], doc["token_count"])
    dataset = alice.client.get("/api/v1/datasets", headers=alice.api_headers).json()["data"][0]
    assert dataset["chunk_count"] == doc["chunk_count"]


def test_reparse_replaces_chunks(alice: Account, runtime: Runtime) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    parse(alice, dataset_id, [document_id])
    first = runtime.chunks.list_document_chunks(document_id, limit=100)
    parse(alice, dataset_id, [document_id])
    second = runtime.chunks.list_document_chunks(document_id, limit=100)
    assert first[1] == second[1] > 0
    assert [c.id for c in first[0]] == [c.id for c in second[0]]


def test_chunks_are_searchable_after_parse(alice: Account, runtime: Runtime) -> None:
    from ragserve.store.base import ChunkFilter
    from ragserve.tokenizer import tokenize

    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    parse(alice, dataset_id, [document_id])
    hits = runtime.chunks.search_text(
        tokenize("migrate distances"), ChunkFilter([alice.id], [dataset_id]), top_k=5
    )
    assert hits and "migrate" in hits[0].chunk.content


def test_broken_file_fails_with_a_message(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    doc = document(alice, dataset_id, document_id)
    assert (doc["run"], doc["progress"]) == ("FAIL", -1.0)
    assert "[ERROR]" in doc["progress_msg"] and "Traceback" not in doc["progress_msg"]
    assert doc["chunk_count"] == 0


def test_empty_file_fails_cleanly(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "empty.txt", b"")
    parse(alice, dataset_id, [document_id])
    doc = document(alice, dataset_id, document_id)
    assert doc["run"] == "FAIL" and "The file is empty." in doc["progress_msg"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "`document_ids` is required"),
        ({"document_ids": "x"}, "`document_ids` is required"),
    ],
)
def test_parse_validation(alice: Account, body: dict[str, Any], message: str) -> None:
    dataset_id = new_dataset(alice)
    result = alice.client.post(
        f"/api/v1/datasets/{dataset_id}/chunks", json=body, headers=alice.api_headers
    ).json()
    assert result == {"code": 102, "message": message}


def test_parse_unknown_and_duplicate_ids(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "a.txt", b"some text here")
    assert parse(alice, dataset_id, [document_id, "nope"]) == {
        "code": 102,
        "message": "Documents not found: ['nope']",
    }
    assert document(alice, dataset_id, document_id)["run"] == "DONE"
    assert parse(alice, dataset_id, [document_id, document_id]) == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"Duplicate document ids: {document_id}"]},
    }


def test_parse_and_stop_in_another_tenants_dataset(alice: Account, bob: Account) -> None:
    dataset_id = new_dataset(bob)
    document_id = upload(bob, dataset_id, "a.txt", b"bob's text")
    message = f"You don't own the dataset {dataset_id}."
    assert parse(alice, dataset_id, [document_id]) == {"code": 102, "message": message}
    assert stop(alice, dataset_id, [document_id]) == {"code": 102, "message": message}
    assert document(bob, dataset_id, document_id)["run"] == "UNSTART"


def test_stop_a_finished_or_unknown_document(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "a.txt", b"text to parse")
    parse(alice, dataset_id, [document_id])
    assert stop(alice, dataset_id, [document_id]) == {
        "code": 102,
        "message": "Can't stop parsing document with progress at 0 or 1",
    }
    assert stop(alice, dataset_id, ["nope"]) == {
        "code": 102,
        "message": "You don't own the document nope.",
    }


def test_stop_a_queued_document(alice: Account, runtime: Runtime) -> None:
    from ragserve.db.models import Document
    from ragserve.ingest import tasks

    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "a.txt", b"text to parse")
    with runtime.transaction() as session:
        row = session.get(Document, document_id)
        assert row is not None
        tasks.new_task(session, row)  # queued, no worker has taken it yet
    assert stop(alice, dataset_id, [document_id]) == {"code": 0}
    doc = document(alice, dataset_id, document_id)
    assert (doc["run"], doc["chunk_count"]) == ("CANCEL", 0)


def test_deleting_a_document_removes_its_chunks(alice: Account, runtime: Runtime) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    parse(alice, dataset_id, [document_id])
    assert runtime.chunks.counts(document_id=document_id).chunks > 0
    alice.client.request(
        "DELETE",
        f"/api/v1/datasets/{dataset_id}/documents",
        json={"ids": [document_id]},
        headers=alice.api_headers,
    )
    assert runtime.chunks.counts(document_id=document_id).chunks == 0


def test_embedding_errors_reach_the_document(
    alice: Account, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragserve.models.embedding import EmbeddingError

    def refuse(_model_id: str, _tenant_id: str | None = None) -> object:
        raise EmbeddingError("The embedding provider rejected the API key.")

    monkeypatch.setattr(runtime, "embedding_model", refuse)
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "a.txt", b"text to embed")
    parse(alice, dataset_id, [document_id])
    doc = document(alice, dataset_id, document_id)
    assert doc["run"] == "FAIL"
    assert (
        doc["progress_msg"]
        .splitlines()[-1]
        .endswith("[ERROR] The embedding provider rejected the API key.")
    )
