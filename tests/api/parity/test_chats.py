"""Chat assistants: RAGFlow's exact create defaults, messages and the weight quirk."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.test_chats import DEFAULT_MODEL, LLM_DEFAULTS, create, created, one, stored, update
from conftest import Account
from ragserve.runtime import Runtime
from ragserve.settings import Settings

UNKNOWN_ID = "9f3c1a2e0c1811ef8c0a0242ac120002"
RAGFLOW_SYSTEM_PROMPT = (
    "You are an intelligent assistant. Please summarize the content of the dataset to answer "
    "the question. Please list the data in the dataset and answer in detail. When all dataset "
    'content is irrelevant to the question, your answer must include the sentence "The answer '
    'you are looking for is not found in the dataset!" Answers need to consider chat history.\n'
    "      Here is the knowledge base:\n      {knowledge}\n      The above is the knowledge base."
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", workers=0, default_chat_model=DEFAULT_MODEL)


def test_an_unknown_dataset_is_not_owned(alice: Account) -> None:
    assert create(alice, name="c", dataset_ids=[UNKNOWN_ID]) == {
        "code": 102,
        "message": f"You don't own the dataset {UNKNOWN_ID}",
    }


def test_the_defaults_are_ragflows(alice: Account, runtime: Runtime) -> None:
    data = created(alice, name="c", llm={})
    assert data["llm"] == {**LLM_DEFAULTS, "model_name": DEFAULT_MODEL}
    prompt = data["prompt"]
    assert prompt["prompt"] == RAGFLOW_SYSTEM_PROMPT
    assert prompt["opener"] == "Hi! I'm your assistant. What can I do for you?"
    assert prompt["empty_response"] == "Sorry! No relevant content was found in the knowledge base!"
    assert (prompt["similarity_threshold"], prompt["keywords_similarity_weight"]) == (0.2, 0.7)
    assert prompt["top_n"] == 6
    assert stored(runtime, data["id"]).vector_similarity_weight == pytest.approx(0.3)


def test_an_empty_system_prompt_is_ragflows_default(alice: Account) -> None:
    assert created(alice, name="c", prompt={"prompt": ""})["prompt"]["prompt"] == (
        RAGFLOW_SYSTEM_PROMPT
    )


def test_top_n_zero_is_kept(alice: Account) -> None:
    data = created(alice, name="c", prompt={"top_n": 0})
    assert data["prompt"]["top_n"] == 0
    assert one(alice, data["id"])["prompt"]["top_n"] == 0
    assert update(alice, data["id"], {"prompt": {"top_n": 3}}) == {"code": 0}
    assert update(alice, data["id"], {"prompt": {"top_n": 0}}) == {"code": 0}
    assert one(alice, data["id"])["prompt"]["top_n"] == 0


def test_keywords_weight_is_stored_as_the_vector_weight(alice: Account, runtime: Runtime) -> None:
    data = created(alice, name="c", prompt={"keywords_similarity_weight": 0.25})
    assert stored(runtime, data["id"]).vector_similarity_weight == 0.25
    assert data["prompt"]["keywords_similarity_weight"] == 0.75
    assert one(alice, data["id"])["prompt"]["keywords_similarity_weight"] == 0.75
    assert update(alice, data["id"], {"prompt": {"keywords_similarity_weight": 0.9}}) == {"code": 0}
    assert stored(runtime, data["id"]).vector_similarity_weight == 0.9
    assert one(alice, data["id"])["prompt"]["keywords_similarity_weight"] == pytest.approx(0.1)
