"""Re-embedding a dataset (``POST/GET/DELETE /api/v1/datasets/{id}/reembed``, a ragserve
extension): every chunk embedded again with another model, without parsing again, and the
dataset switched to it once all vectors are replaced. Tasks run inline here (``workers = 0``);
``e2e/test_reembed_e2e.py`` runs them on a worker (cancel, CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.test_parsing import new_dataset, parse, upload
from api.test_retrieval import found
from conftest import Account
from helpers.fake_openai import FakeOpenAI, fake_vector
from ragserve.db.models import DatasetTask, Document
from ragserve.domain import RunState
from ragserve.ingest.chunk_text import embed_for_document, embedding_text
from ragserve.runtime import Runtime
from ragserve.settings import Settings
from ragserve.store.base import ChunkRecord

OLD = "all-MiniLM-L6-v2@Builtin"
Q8 = "all-MiniLM-L6-v2-q8@Builtin"
API_MODEL = "local-embed@VLLM"
UNKNOWN_ID = "9b3f0c2a1c2b11ef8a3e0242ac120002"  # a UUID1 no dataset has
VECTORS_ONLY = {"vector_similarity_weight": 1.0, "similarity_threshold": 0.0, "top_k": 64}

CORPUS = {
    "cranes.md": "# Cranes\n\nCranes are large wading birds with long legs and necks. "
    "Whooping cranes migrate across North America every autumn.",
    "engines.md": "# Jet engines\n\nA turbofan engine compresses air, burns fuel and drives a "
    "fan. Engine thrust depends on the mass flow of air.",
    "bread.md": "# Baking bread\n\nKnead the dough, let it rise, then bake the bread in a hot "
    "oven until the crust is brown.",
    "tides.md": "# Tides\n\nThe moon's gravity pulls the oceans, raising two bulges of water; "
    "coasts see high tide twice a day.",
    "chess.md": "# Chess openings\n\nThe Sicilian defence answers the king's pawn with the "
    "c-pawn and leads to sharp, unbalanced games.",
    "volcano.md": "# Volcanoes\n\nMagma rises through the crust and erupts as lava, ash and "
    "gas; basalt flows cool into dark rock.",
}
QUESTIONS = [
    "Which birds migrate in autumn?",
    "How does a jet engine make thrust?",
    "What makes the sea rise and fall?",
    "How is lava formed?",
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def reembed(account: Account, dataset_id: str, body: Any = None) -> dict[str, Any]:
    response = account.client.post(
        f"/api/v1/datasets/{dataset_id}/reembed", json=body, headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def status(account: Account, dataset_id: str) -> dict[str, Any]:
    response = account.client.get(
        f"/api/v1/datasets/{dataset_id}/reembed", headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def shown(account: Account, dataset_id: str) -> dict[str, Any]:
    listed = account.client.get(
        "/api/v1/datasets", params={"id": dataset_id}, headers=account.api_headers
    ).json()
    row: dict[str, Any] = listed["data"][0]
    return row


def old_corpus(account: Account) -> tuple[str, list[str]]:
    dataset_id = new_dataset(account, name="old", embedding_model=OLD)
    ids = [upload(account, dataset_id, name, text.encode()) for name, text in CORPUS.items()]
    assert parse(account, dataset_id, ids) == {"code": 0}
    assert shown(account, dataset_id)["chunk_count"] == len(CORPUS)
    return dataset_id, ids


def records(runtime: Runtime, document_ids: list[str]) -> list[ChunkRecord]:
    return [
        record
        for document_id in document_ids
        for record in runtime.chunks.list_document_chunks(document_id, limit=100)[0]
    ]


def top(account: Account, dataset_id: str, question: str, count: int = 3) -> list[str]:
    hits = found(account, dataset_ids=[dataset_id], question=question, **VECTORS_ONLY)
    return [hit["id"] for hit in hits[:count]]


def add_api_model(account: Account, fake: FakeOpenAI, api_key: str = "sk-test") -> None:
    response = account.post(
        "/v1/llm/add_llm",
        json={
            "llm_factory": "VLLM",
            "llm_name": "local-embed",
            "model_type": "embedding",
            "api_base": fake.base_url,
            "api_key": api_key,
        },
    )
    assert response.json()["code"] == 0, response.json()


def test_reembed_to_the_int8_model_gives_its_vectors_and_the_same_answers(
    alice: Account, runtime: Runtime
) -> None:
    dataset_id, document_ids = old_corpus(alice)
    before = records(runtime, document_ids)
    answers = {question: top(alice, dataset_id, question) for question in QUESTIONS}
    assert status(alice, dataset_id) == {"code": 0, "data": {}}

    queued = reembed(alice, dataset_id, {"embedding_model": Q8})
    assert queued["code"] == 0, queued
    assert queued["data"]["embedding_model"] == Q8
    row = status(alice, dataset_id)["data"]
    assert (row["id"], row["task_type"], row["progress"]) == (
        queued["data"]["reembed_task_id"],
        "reembed",
        1.0,
    ), row["progress_msg"]
    assert row["embedding_model"] == Q8
    assert f"Re-embedded {len(CORPUS)} chunks with {Q8}." in row["progress_msg"]
    assert "Re-embedding done." in row["progress_msg"]

    dataset = shown(alice, dataset_id)
    assert dataset["embedding_model"] == Q8
    assert dataset["chunk_count"] == len(CORPUS)
    after = records(runtime, document_ids)
    assert [r.id for r in after] == [r.id for r in before]
    assert [r.content for r in after] == [r.content for r in before]
    model = runtime.embedding_model(Q8)
    with runtime.read() as session:
        configs = {d: session.get(Document, d).parser_config for d in document_ids}  # type: ignore[union-attr]
    for record, old in zip(after, before, strict=True):
        text = embedding_text(record.content, record.questions)
        [expected] = embed_for_document(
            model, record.document_name, configs[record.document_id], [text]
        )
        assert record.vector is not None and old.vector is not None
        assert float(np.dot(record.vector, expected)) > 0.999
        assert not np.array_equal(record.vector, old.vector)  # replaced, not kept
    for question, chunks in answers.items():
        assert top(alice, dataset_id, question) == chunks, question


def test_reembed_to_an_api_model_changes_the_dimension_and_the_question_model(
    alice: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    dataset_id, document_ids = old_corpus(alice)
    add_api_model(alice, fake)
    queued = reembed(alice, dataset_id, {"embedding_model": API_MODEL})
    assert queued["code"] == 0, queued
    assert status(alice, dataset_id)["data"]["progress"] == 1.0
    assert shown(alice, dataset_id)["embedding_model"] == API_MODEL
    after = records(runtime, document_ids)
    assert len(after) == len(CORPUS)
    assert all(r.vector is not None and r.vector.shape == (fake.dimension,) for r in after)

    calls = len(fake.requests)
    question = "Which birds migrate in autumn?"
    hits = found(alice, dataset_ids=[dataset_id], question=question, **VECTORS_ONLY)
    asked = [r for r in fake.requests[calls:] if r.path == "/v1/embeddings"]
    assert [r.body["input"] for r in asked] == [[question]]  # the question, by the new model
    vector = np.asarray(fake_vector(question, fake.dimension), dtype=np.float32)
    vector /= np.linalg.norm(vector)
    best = max(after, key=lambda r: float(np.dot(r.vector, vector)))  # type: ignore[arg-type]
    assert hits[0]["id"] == best.id


def test_the_default_target_is_the_tenants_default_model(alice: Account) -> None:
    dataset_id, _ids = old_corpus(alice)
    queued = reembed(alice, dataset_id)
    assert queued["code"] == 0, queued
    assert queued["data"]["embedding_model"] == Q8  # new tenants default to the int8 model
    assert shown(alice, dataset_id)["embedding_model"] == Q8


def test_refusals(alice: Account, bob: Account, runtime: Runtime) -> None:
    dataset_id, document_ids = old_corpus(alice)
    no_access = {"code": 109, "message": "No authorization."}
    assert reembed(bob, dataset_id, {"embedding_model": Q8}) == no_access
    assert status(bob, dataset_id) == no_access
    assert reembed(alice, UNKNOWN_ID) == no_access
    unknown = reembed(alice, dataset_id, {"embedding_model": "nope@Nowhere"})
    assert unknown["code"] == 101 and "nope@Nowhere" in unknown["message"], unknown
    bad = reembed(alice, dataset_id, {"embedding_model": "no-provider"})
    assert bad["code"] == 101, bad
    assert "<model_name>@<provider>" in bad["message"]
    extra = reembed(alice, dataset_id, {"embedding_model": Q8, "other": 1})
    assert extra["code"] == 101, extra
    assert reembed(alice, dataset_id, {"embedding_model": 5})["code"] == 101

    with runtime.transaction() as session:  # a document being parsed
        document = session.get(Document, document_ids[0])
        assert document is not None
        document.run = RunState.RUNNING
    busy = reembed(alice, dataset_id, {"embedding_model": Q8})
    assert busy["code"] == 102 and "being parsed" in busy["message"], busy
    with runtime.transaction() as session:
        document = session.get(Document, document_ids[0])
        assert document is not None
        document.run = RunState.DONE
        task = DatasetTask(
            tenant_id=alice.id, dataset_id=dataset_id, task_type="reembed", target=Q8
        )
        session.add(task)
        session.flush()
        task_id = task.id
    assert reembed(alice, dataset_id, {"embedding_model": Q8}) == {
        "code": 102,
        "message": f"Task {task_id} in progress with status 0.0. "
        "A Re-embedding Task is already running.",
    }
    # meanwhile parses and RAPTOR wait for it
    refused = parse(alice, dataset_id, document_ids[:1])
    assert refused["code"] == 102 and "being re-embedded" in refused["message"], refused
    raptor = alice.client.post(
        f"/api/v1/datasets/{dataset_id}/run_raptor", headers=alice.api_headers
    ).json()
    assert raptor["code"] == 102 and "Re-embedding Task is already running" in raptor["message"]
    # cancelling it lets them run again; the dataset is as it was
    cancelled = alice.client.delete(
        f"/api/v1/datasets/{dataset_id}/reembed", headers=alice.api_headers
    ).json()
    assert cancelled == {"code": 0}
    assert status(alice, dataset_id)["data"]["progress"] == -1.0
    assert shown(alice, dataset_id)["embedding_model"] == OLD
    assert parse(alice, dataset_id, document_ids[:1]) == {"code": 0}
