"""Retrieval with models behind a real (fake) provider: keyword, cross_languages, rerank_id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_retrieval import found, retrieve
from conftest import Account
from helpers.fake_openai import FakeOpenAI, rerank_score
from ragserve.settings import Settings


def reply(messages: list[dict[str, Any]]) -> str:
    """Keywords or translations, as a chat model would answer the prompts of rag/question.py."""
    system = str(messages[0].get("content", ""))
    if "keywords" in system:
        return "whooping, migrate"
    if "Translate" in system:
        return "Wie backt man Brot?\nComment faire du pain ?\n"
    return "?"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def llm_key() -> str:
    return "sk-test-key"


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI, llm_key: str) -> Settings:
    return fake.settings(tmp_path / "home", llm_key)


def chat_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/v1/chat/completions"]


def test_keyword_appends_the_models_keywords(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    body = {"dataset_ids": [corpus.dataset_id], "question": "large birds",
            "similarity_threshold": 0}  # fmt: skip
    plain = found(alice, **body)
    assert chat_requests(fake) == []
    keyed = found(alice, **body, keyword=True)
    [request] = chat_requests(fake)
    assert request["model"] == "fake-chat" and request["messages"][-1]["content"] == "large birds"
    assert "<em>whooping</em>" in keyed[0]["highlight"].lower()  # keywords searched too
    assert "<em>Whooping</em>" not in plain[0]["highlight"]
    assert keyed[0]["vector_similarity"] != plain[0]["vector_similarity"]  # embedded too


def test_cross_languages_searches_the_translations(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    chunks = found(alice, dataset_ids=[corpus.dataset_id], question="How to bake bread?",
                   cross_languages=["German", "French"], similarity_threshold=0)  # fmt: skip
    [request] = chat_requests(fake)
    assert "German, French" in request["messages"][0]["content"]
    # "Brot"/"pain" match nothing: the translations replaced the question, as in RAGFlow
    assert all(chunk["term_similarity"] == 0 for chunk in chunks)
    bad = retrieve(alice, dataset_ids=[corpus.dataset_id], question="x", cross_languages="de")
    assert bad["code"] == 102


@pytest.mark.parametrize("llm_key", ["bad-key"])  # the fake's 401 mode
def test_a_failing_chat_model_keeps_the_question(alice: Account, corpus: Corpus) -> None:
    chunks = found(alice, dataset_ids=[corpus.dataset_id], question="bake bread",
                   keyword=True, cross_languages=["German"])  # fmt: skip
    assert chunks[0]["document_keyword"] == "bread.md"


def test_rerank_replaces_the_vector_similarity(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    question = "engine thrust air"
    chunks = found(alice, dataset_ids=[corpus.dataset_id], question=question,
                   rerank_id="fake-reranker@OpenAI-API-Compatible", similarity_threshold=0)  # fmt: skip
    [request] = [r.body for r in fake.requests if r.path == "/v1/rerank"]
    assert request["model"] == "fake-reranker" and request["query"] == question
    for chunk in chunks:
        expected = rerank_score(question, chunk["content"])
        assert chunk["vector_similarity"] == pytest.approx(expected)
        assert chunk["similarity"] == pytest.approx(0.7 * chunk["term_similarity"] + 0.3 * expected)
    assert chunks[0]["document_keyword"] == "engines.md"


@pytest.mark.parametrize("llm_key", ["limited"])  # the fake's 429 mode
def test_rerank_errors_are_reported(alice: Account, corpus: Corpus) -> None:
    result = retrieve(alice, dataset_ids=[corpus.dataset_id], question="bread",
                      rerank_id="r@OpenAI-API-Compatible")  # fmt: skip
    assert result["code"] == 100 and "rate limit" in result["message"]
    assert "limited" not in result["message"]
    builtin = retrieve(alice, dataset_ids=[corpus.dataset_id], question="bread",
                       rerank_id="nope@Builtin")  # fmt: skip
    assert builtin == {"code": 100, "message": "Model(nope@Builtin) not authorized"}
    wrong = retrieve(alice, dataset_ids=[corpus.dataset_id], question="bread", rerank_id=5)
    assert wrong["code"] == 102
