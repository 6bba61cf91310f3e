"""The SDK against the in-process app: ``RAGFlow`` sends through the ``TestClient`` (an
``httpx.Client``), ``AsyncRAGFlow`` through ``httpx.ASGITransport``. Parsing runs inline
(``workers = 0``); answers come from the fake OpenAI-compatible model over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.sdk import DataSet, RAGFlow
from ragserve.settings import Settings

BASE_URL = "http://testserver"
OWLS = "# Owls\n\nBarn owls hunt at night by sound alone. They rest by day in barns."
FACT = "Barn owls hunt at night by sound alone."


def reply(messages: list[dict[str, Any]]) -> str:
    question = str(messages[-1].get("content", ""))
    return FACT if "owl" in question.lower() else f"Fake answer to: {question}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def llm_key() -> str:
    return "sk-test-key"


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI, llm_key: str) -> Settings:
    return fake.settings(tmp_path / "home", llm_key)


def over(client: TestClient) -> httpx.Client:
    """The test client as the ``http_client`` of ``RAGFlow``: Starlette's ``TestClient`` is an
    ``httpx2.Client``, which has ``httpx.Client``'s interface."""
    return cast(httpx.Client, client)


@pytest.fixture
def rag(client: TestClient, alice: Account) -> Iterator[RAGFlow]:
    with RAGFlow(alice.api_key, BASE_URL, http_client=over(client)) as rag:
        yield rag


@pytest.fixture
def owls(rag: RAGFlow) -> DataSet:
    """A dataset with one parsed document, ``owls.md``."""
    dataset = rag.create_dataset(name="owls")
    [document] = dataset.upload_documents([{"display_name": "owls.md", "blob": OWLS.encode()}])
    [(_, run, _, _)] = dataset.parse_documents([document.id])
    assert run == "DONE"
    return dataset
