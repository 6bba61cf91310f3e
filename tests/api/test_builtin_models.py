"""The two builtin embedding models: new datasets get the int8 one; datasets made with the
shipped one before keep it, for their chunks and for the questions asked of them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from api.conftest import DOCS
from api.test_parsing import new_dataset, parse, upload
from api.test_retrieval import found, retrieve
from conftest import Account
from ragserve.models.embedding import BuiltinEmbedding, BuiltinSession, embed_chunks

OLD = "all-MiniLM-L6-v2@Builtin"
NEW = "all-MiniLM-L6-v2-q8@Builtin"
QUESTION = "How do cranes migrate?"


def _dataset(account: Account, **fields: str) -> tuple[str, dict[str, str]]:
    dataset_id = new_dataset(account, name="models", **fields)
    documents = {
        name: upload(account, dataset_id, name, text.encode()) for name, text in DOCS.items()
    }
    assert parse(account, dataset_id, list(documents.values())) == {"code": 0}
    return dataset_id, documents


def _model(account: Account, dataset_id: str) -> str:
    response = account.client.get(
        "/api/v1/datasets", params={"id": dataset_id}, headers=account.api_headers
    )
    [dataset] = response.json()["data"]
    model: str = dataset["embedding_model"]
    return model


def _expected_similarity(model_id: str, chunk: dict[str, object]) -> float:
    session = BuiltinSession(cache_dir=Path(os.environ["RAGSERVE_MODELS_DIR"]))
    model = BuiltinEmbedding(session, name=model_id)
    [chunk_vector] = embed_chunks(model, [str(chunk["document_keyword"])], [str(chunk["content"])])
    [question] = model.embed([QUESTION])
    return float(question @ chunk_vector)


def test_new_datasets_use_the_int8_model(alice: Account) -> None:
    dataset_id, documents = _dataset(alice)
    assert _model(alice, dataset_id) == NEW
    [first, *_] = found(alice, dataset_ids=[dataset_id], question=QUESTION, similarity_threshold=0)
    assert first["document_id"] == documents["cranes.md"]
    assert first["vector_similarity"] == pytest.approx(_expected_similarity(NEW, first), abs=2e-3)


def test_a_dataset_of_the_shipped_model_keeps_it(alice: Account) -> None:
    dataset_id, documents = _dataset(alice, embedding_model=OLD)
    assert _model(alice, dataset_id) == OLD
    [first, *_] = found(alice, dataset_ids=[dataset_id], question=QUESTION, similarity_threshold=0)
    assert first["document_id"] == documents["cranes.md"]
    # chunks and question embedded by the shipped model, not the int8 one
    old, new = _expected_similarity(OLD, first), _expected_similarity(NEW, first)
    assert not np.isclose(old, new, atol=1e-4)
    assert first["vector_similarity"] == pytest.approx(old, abs=2e-4)


def test_old_and_new_datasets_are_searched_together(alice: Account) -> None:
    old_id, old_documents = _dataset(alice, embedding_model=OLD)
    new_id, new_documents = _dataset(alice)
    chunks = found(alice, dataset_ids=[old_id, new_id], question=QUESTION, similarity_threshold=0)
    top = {chunk["document_id"] for chunk in chunks[:2]}
    assert top == {old_documents["cranes.md"], new_documents["cranes.md"]}
    chat = alice.client.post(
        "/api/v1/chats", json={"name": "both", "dataset_ids": [old_id, new_id]},
        headers=alice.api_headers,
    ).json()  # fmt: skip
    assert chat["code"] == 0, chat
    assert retrieve(alice, dataset_ids=[new_id, old_id], question=QUESTION)["code"] == 0
