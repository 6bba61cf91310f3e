"""The Retrieval component's search options: datasets named by name, ``meta_data_filter``
(manual), ``use_kg``, ``cross_languages`` — the same paths as chats and ``/api/v1/retrieval``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_agent_completions import rag_dsl, run
from api.test_agents import make_agent
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def found_by(account: Account, params: dict[str, Any], dataset_id: str, question: str) -> Any:
    dsl = rag_dsl(dataset_id)
    dsl["components"]["Retrieval:Find"]["obj"]["params"].update(params)
    agent = make_agent(account, f"agent-{json.dumps(params, sort_keys=True)}", dsl)
    result = run(account, agent, question=question, stream=False)
    data = result["data"]["data"]
    return data.get("reference", {}).get("chunks", {}), data["content"]


def test_a_dataset_named_by_its_name(alice: Account, corpus: Corpus) -> None:
    chunks, _content = found_by(alice, {"kb_ids": ["RETRIEVAL"]}, corpus.dataset_id, "cranes")
    assert {c["dataset_id"] for c in chunks.values()} == {corpus.dataset_id}


def test_another_tenants_dataset_name_finds_nothing(
    alice: Account, bob: Account, corpus: Corpus
) -> None:
    _chunks, content = found_by(bob, {"kb_ids": ["retrieval"]}, corpus.dataset_id, "cranes")
    assert content == "**ERROR**: You don't own the dataset retrieval."


def test_a_manual_metadata_filter(alice: Account, corpus: Corpus) -> None:
    cranes = corpus.documents["cranes.md"]
    response = alice.client.put(
        f"/api/v1/datasets/{corpus.dataset_id}/documents/{cranes}",
        json={"meta_fields": {"topic": "birds"}},
        headers=alice.api_headers,
    )
    assert response.json()["code"] == 0
    manual = {"method": "manual", "manual": [{"key": "topic", "op": "=", "value": "birds"}]}
    chunks, _ = found_by(alice, {"meta_data_filter": manual}, corpus.dataset_id, "cranes bread")
    assert {c["document_id"] for c in chunks.values()} == {cranes}
    unfiltered, _ = found_by(alice, {"meta_data_filter": {"method": "disabled"}},
                             corpus.dataset_id, "cranes bread")  # fmt: skip
    assert {c["document_id"] for c in unfiltered.values()} != {cranes}


def test_cross_languages_search_the_translation_too(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    chunks, _ = found_by(alice, {"cross_languages": ["English"]}, corpus.dataset_id, "面包")
    assert corpus.documents["bread.md"] in {c["document_id"] for c in chunks.values()}
    translated = [r for r in fake.requests if "languages: English" in str(r.body)]
    assert translated
