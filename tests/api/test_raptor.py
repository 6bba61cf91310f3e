"""RAPTOR (``run_raptor`` / ``trace_raptor``): a dataset-wide task clusters the parsed chunks,
has the chat model (the fake server, which restates what it is asked) summarise each cluster,
and stores the summaries as searchable chunks of the dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.conftest import DOCS
from api.test_auto_keywords import chat_calls, parsed_corpus
from api.test_chunks import listing
from api.test_parsing import new_dataset, upload
from api.test_retrieval import found
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.app import create_app
from ragserve.db.models import DatasetTask
from ragserve.runtime import Runtime
from ragserve.services.raptor import NO_MODEL
from ragserve.settings import Settings

TERMS_ONLY = {"vector_similarity_weight": 0.0, "similarity_threshold": 0.1}
UNKNOWN_ID = "9b3f0c2a1c2b11ef8a3e0242ac120002"  # a UUID1 no dataset has


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def run_raptor(account: Account, dataset_id: str) -> dict[str, Any]:
    response = account.client.post(
        f"/api/v1/datasets/{dataset_id}/run_raptor", headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def trace_raptor(account: Account, dataset_id: str) -> dict[str, Any]:
    response = account.client.get(
        f"/api/v1/datasets/{dataset_id}/trace_raptor", headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def dataset(account: Account, dataset_id: str) -> dict[str, Any]:
    listed = account.client.get(
        "/api/v1/datasets", params={"id": dataset_id}, headers=account.api_headers
    ).json()
    row: dict[str, Any] = listed["data"][0]
    return row


def summaries(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        body
        for body in chat_calls(fake)
        if str(body["messages"][0]["content"]).startswith("Please summarize")
    ]


def test_run_raptor_summarises_the_chunks_into_searchable_chunks(
    alice: Account, fake: FakeOpenAI
) -> None:
    dataset_id, documents = parsed_corpus(alice)
    assert dataset(alice, dataset_id)["raptor_task_id"] is None
    assert trace_raptor(alice, dataset_id) == {"code": 0, "data": {}}

    queued = run_raptor(alice, dataset_id)
    assert queued["code"] == 0, queued
    task_id = queued["data"]["raptor_task_id"]
    trace = trace_raptor(alice, dataset_id)["data"]
    assert (trace["id"], trace["task_type"], trace["progress"]) == (task_id, "raptor", 1.0)
    assert "RAPTOR over 3 chunks" in trace["progress_msg"]
    assert "RAPTOR done: 2 summary chunks." in trace["progress_msg"]
    shown = dataset(alice, dataset_id)
    assert shown["raptor_task_id"] == task_id and shown["raptor_task_finish_at"]

    # two of the three chunks are summarised together, then that summary with the third
    first, top = summaries(fake)
    assert first["messages"][0]["content"] in top["messages"][0]["content"]
    prompt = top["messages"][0]["content"]
    assert all(text.split("\n\n")[1] in prompt for text in DOCS.values()), prompt

    # the summary holds words of all three documents: a question mixing them finds it first
    hits = found(alice, dataset_ids=[dataset_id], question="cranes turbofan dough", **TERMS_ONLY)
    assert hits[0]["content"].startswith("Fake answer to: Please summarize")
    assert hits[0]["document_id"] in documents.values()
    assert hits[0]["id"] == trace["chunk_ids"].split()[-1]  # the top of the tree
    owner = listing(alice, dataset_id, hits[0]["document_id"])["data"]
    assert owner["doc"]["chunk_count"] == 3  # its own chunk and both summaries


def test_a_second_run_replaces_the_summaries_and_pays_nothing_again(
    alice: Account, fake: FakeOpenAI
) -> None:
    dataset_id, _documents = parsed_corpus(alice)
    first = run_raptor(alice, dataset_id)["data"]["raptor_task_id"]
    second = run_raptor(alice, dataset_id)["data"]["raptor_task_id"]
    assert second != first
    assert len(summaries(fake)) == 2  # the same clusters: answered from the cache
    hits = found(alice, dataset_ids=[dataset_id], question="cranes turbofan dough", **TERMS_ONLY)
    assert sum(hit["content"].startswith("Fake answer to:") for hit in hits) == 2
    assert trace_raptor(alice, dataset_id)["data"]["id"] == second


def test_a_running_task_is_not_queued_twice(alice: Account, runtime: Runtime) -> None:
    dataset_id, _documents = parsed_corpus(alice)
    with runtime.transaction() as session:
        task = DatasetTask(tenant_id=alice.id, dataset_id=dataset_id, task_type="raptor")
        session.add(task)
        session.flush()
        task_id = task.id
    assert run_raptor(alice, dataset_id) == {
        "code": 102,
        "message": f"Task {task_id} in progress with status 0.0. A RAPTOR Task is already running.",
    }


def test_a_dataset_without_documents_is_refused(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="empty")
    assert run_raptor(alice, dataset_id) == {
        "code": 102,
        "message": f"No documents in Dataset {dataset_id}",
    }


def test_another_tenants_or_an_unknown_dataset_is_not_reachable(
    alice: Account, bob: Account
) -> None:
    dataset_id, _documents = parsed_corpus(alice)
    refused = {"code": 109, "message": "No authorization."}
    assert run_raptor(bob, dataset_id) == refused
    assert trace_raptor(bob, dataset_id) == refused
    assert run_raptor(alice, UNKNOWN_ID) == refused
    assert trace_raptor(alice, UNKNOWN_ID) == refused
    assert dataset(alice, dataset_id)["raptor_task_id"] is None


def test_a_malformed_dataset_id_is_a_validation_error(alice: Account) -> None:
    result = run_raptor(alice, "not-an-id")
    assert result["code"] == 101 and "dataset_id" in result["message"], result


def test_a_failing_model_fails_the_task_with_a_clear_message(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    home = tmp_path / "bad"
    with TestClient(create_app(fake.settings(home, "sk-test"))) as client:
        account = Account(client, "carol@example.com")
        dataset_id, _documents = parsed_corpus(account)
    bad = fake.settings(home, "bad")  # the same data, now with a key the fake refuses
    with TestClient(create_app(bad), raise_server_exceptions=False) as client:
        account.client = client  # its API key is in the database the new app opens
        assert run_raptor(account, dataset_id)["code"] == 0
        trace = trace_raptor(account, dataset_id)["data"]
    assert trace["progress"] == -1.0
    last = trace["progress_msg"].splitlines()[-1]
    assert "[ERROR] RAPTOR failed: Chat model" in last and "Traceback" not in last


def test_without_a_chat_model_it_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "none", workers=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        account = Account(client, "carol@example.com")
        dataset_id = new_dataset(account, name="plain")
        upload(account, dataset_id, "a.txt", b"some text")
        assert run_raptor(account, dataset_id) == {"code": 102, "message": NO_MODEL}
