"""The embedded search page (``/api/v1/searchbots/*``) with a beta token: ask (stream 4.5),
retrieval test, related questions, a saved app's detail and a mind map, with and without a
saved app's config; validation errors, another tenant's datasets and apps, missing ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_bots import beta_headers, events_of
from api.test_completions import CRANES
from api.test_completions import reply as chat_reply
from api.test_parsing import new_dataset
from api.test_search_apps import NO_PERMISSION, new_app, update
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings

MISSING_ID = "0" * 32
OUTLINE = """# Birds
## Cranes
- Large wading birds
- **Migrate** every autumn
## Habitat
### Wetlands
- Marshes
"""


def reply(messages: list[dict[str, Any]]) -> str:
    if "mind map" in str(messages[0]["content"]):
        return OUTLINE
    return chat_reply(messages)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key", "openai/fake-chat")


def post(account: Account, path: str, headers: dict[str, str], **body: Any) -> Any:
    response = account.client.post(f"/api/v1/searchbots/{path}", json=body, headers=headers)
    assert response.status_code == 200
    if response.headers["content-type"].startswith("text/event-stream"):
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return events_of(response.text)
    return response.json()


def missing(*names: str) -> dict[str, Any]:
    return {"code": 101, "message": f"required argument are missing: {','.join(names)}; "}


# --- ask -----------------------------------------------------------------------------------------


def test_ask_streams_the_answer_and_the_reference(alice: Account, corpus: Corpus) -> None:
    events = post(alice, "ask", beta_headers(alice), question="How do cranes travel?",
                  kb_ids=[corpus.dataset_id])  # fmt: skip
    assert events[-1] == {"code": 0, "message": "", "data": True}
    deltas = [e["data"] for e in events[:-1] if e["data"]["final"] is False]
    [final] = [e["data"] for e in events[:-1] if e["data"]["final"] is True]
    assert all(e["code"] == 0 and e["message"] == "" for e in events)
    assert "".join(d["answer"] for d in deltas) == f"{CRANES} That is all I know about it."
    assert all(d["reference"] == {} for d in deltas) and final["answer"] == ""
    assert final["reference"]["chunks"][0]["document_name"] == "cranes.md"
    assert final["reference"]["doc_aggs"][0]["doc_id"] == corpus.documents["cranes.md"]


def test_ask_applies_a_saved_apps_config(alice: Account, corpus: Corpus, fake: FakeOpenAI) -> None:
    other = new_dataset(alice, name="empty")
    search_id = new_app(alice)
    config = {"kb_ids": [corpus.dataset_id], "doc_ids": [corpus.documents["bread.md"]],
              "similarity_threshold": 0.0}  # fmt: skip
    assert update(alice, search_id, search_config=config)["code"] == 0
    events = post(alice, "ask", beta_headers(alice), question="cranes and bread", kb_ids=[other],
                  search_id=search_id)  # fmt: skip
    [final] = [e["data"] for e in events[:-1] if e["data"]["final"] is True]
    names = {chunk["document_name"] for chunk in final["reference"]["chunks"]}
    assert names == {"bread.md"}  # the app's datasets and documents, not the body's


def test_ask_is_checked(alice: Account, bob: Account, corpus: Corpus) -> None:
    headers = beta_headers(alice)
    assert post(alice, "ask", headers, kb_ids=[corpus.dataset_id]) == missing("question")
    assert post(alice, "ask", headers) == missing("question", "kb_ids")
    empty = post(alice, "ask", headers, question="q", kb_ids=[])
    assert empty == {"code": 102, "message": "Please specify dataset firstly.", "data": False}
    bobs = beta_headers(bob)
    for dataset_id in (corpus.dataset_id, MISSING_ID):
        refused = post(bob, "ask", bobs, question="cranes", kb_ids=[dataset_id])
        assert refused == {"code": 102, "message": f"You don't own the dataset {dataset_id}."}
    alices_app = new_app(alice)
    for search_id in (alices_app, MISSING_ID):
        refused = post(bob, "ask", bobs, question="q", kb_ids=["x"], search_id=search_id)
        assert refused == NO_PERMISSION


# --- retrieval test ------------------------------------------------------------------------------


def test_retrieval_test_pages_chunks_in_ragflows_names(alice: Account, corpus: Corpus) -> None:
    headers = beta_headers(alice)
    result = post(alice, "retrieval_test", headers, kb_id=corpus.dataset_id,
                  question="crane migration", highlight=True)  # fmt: skip
    assert result["code"] == 0 and result["message"] == "success"
    data = result["data"]
    assert data["total"] >= 1 and data["labels"] == {}
    best = data["chunks"][0]
    assert set(best) == {
        "chunk_id", "content_ltks", "content_with_weight", "doc_id", "docnm_kwd", "kb_id",
        "important_kwd", "image_id", "similarity", "vector_similarity", "term_similarity",
        "positions", "doc_type_kwd", "highlight",
    }  # fmt: skip
    assert best["docnm_kwd"] == "cranes.md" and best["kb_id"] == corpus.dataset_id
    assert best["doc_id"] == corpus.documents["cranes.md"] and "<em>" in best["highlight"]
    assert data["doc_aggs"][0] == {"doc_name": "cranes.md",
                                   "doc_id": corpus.documents["cranes.md"], "count": 1}  # fmt: skip
    paged = post(alice, "retrieval_test", headers, kb_id=[corpus.dataset_id], question="the",
                 size=1, page=2, similarity_threshold=0.0)  # fmt: skip
    assert len(paged["data"]["chunks"]) == 1 and paged["data"]["total"] >= 2
    only = post(alice, "retrieval_test", headers, kb_id=[corpus.dataset_id], question="the",
                doc_ids=[corpus.documents["bread.md"]], similarity_threshold=0.0)  # fmt: skip
    assert {c["docnm_kwd"] for c in only["data"]["chunks"]} == {"bread.md"}


def test_retrieval_test_is_checked(alice: Account, bob: Account, corpus: Corpus) -> None:
    headers = beta_headers(alice)
    assert post(alice, "retrieval_test", headers, question="q") == missing("kb_id")
    assert post(alice, "retrieval_test", headers, kb_id="x") == missing("question")
    empty = post(alice, "retrieval_test", headers, kb_id=[], question="q")
    assert empty == {"code": 102, "message": "Please specify dataset firstly.", "data": False}
    bad = post(alice, "retrieval_test", headers, kb_id=[corpus.dataset_id], question="q", size=0)
    assert bad["code"] == 101 and "size" in bad["message"]
    not_owner = {"code": 103, "data": False,
                 "message": "Only owner of dataset authorized for this operation."}  # fmt: skip
    for dataset_id in (corpus.dataset_id, MISSING_ID):
        refused = post(bob, "retrieval_test", beta_headers(bob), kb_id=dataset_id, question="q")
        assert refused == not_owner


# --- related questions and detail ----------------------------------------------------------------


def test_related_questions(alice: Account, bob: Account, fake: FakeOpenAI) -> None:
    headers = beta_headers(alice)
    result = post(alice, "related_questions", headers, question="cranes")
    assert result == {"code": 0, "message": "success",
                      "data": ["crane migration", "whooping crane", "bird legs"]}  # fmt: skip
    [call] = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    assert call["model"] == "fake-chat" and call["messages"][-1]["content"] == "cranes"
    assert post(alice, "related_questions", headers) == missing("question")
    search_id = new_app(alice)
    assert post(bob, "related_questions", beta_headers(bob), question="q",
                search_id=search_id) == NO_PERMISSION  # fmt: skip
    with_app = post(alice, "related_questions", headers, question="q", search_id=search_id)
    assert with_app["code"] == 0


def test_detail_shows_the_tenants_app_only(alice: Account, bob: Account) -> None:
    search_id = new_app(alice)
    shown = alice.client.get("/api/v1/searchbots/detail", params={"search_id": search_id},
                             headers=beta_headers(alice)).json()  # fmt: skip
    assert shown["code"] == 0 and shown["message"] == "success"
    assert shown["data"]["id"] == search_id and shown["data"]["name"] == "finder"
    assert shown["data"]["search_config"]["top_k"] == 1024
    for other in (search_id, MISSING_ID):
        refused = bob.client.get("/api/v1/searchbots/detail", params={"search_id": other},
                                 headers=beta_headers(bob)).json()  # fmt: skip
        assert refused == NO_PERMISSION
    absent = alice.client.get("/api/v1/searchbots/detail", headers=beta_headers(alice)).json()
    assert absent["code"] == 101 and "search_id" in absent["message"]


# --- mind map ------------------------------------------------------------------------------------


def test_mindmap_draws_the_outline_of_the_passages(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    result = post(alice, "mindmap", beta_headers(alice), question="cranes",
                  kb_ids=[corpus.dataset_id])  # fmt: skip
    assert result == {
        "code": 0,
        "message": "success",
        "data": {
            "id": "Birds",
            "children": [
                {"id": "Cranes", "children": [{"id": "Large wading birds"},
                                              {"id": "Migrate every autumn"}]},
                {"id": "Habitat", "children": [{"id": "Wetlands",
                                                "children": [{"id": "Marshes"}]}]},
            ],
        },
    }  # fmt: skip
    [call] = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    assert "Whooping cranes migrate" in call["messages"][-1]["content"]


def test_mindmap_of_nothing_found_is_empty(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    result = post(alice, "mindmap", beta_headers(alice), question="zzzz qqqq",
                  kb_ids=[corpus.dataset_id])  # fmt: skip
    assert result["data"] == {"id": "root", "children": []}
    assert not [r for r in fake.requests if r.path == "/v1/chat/completions"]


def test_mindmap_is_checked(alice: Account, bob: Account, corpus: Corpus) -> None:
    headers = beta_headers(alice)
    assert post(alice, "mindmap", headers, question="q") == missing("kb_ids")
    bobs = beta_headers(bob)
    refused = post(bob, "mindmap", bobs, question="cranes", kb_ids=[corpus.dataset_id])
    assert refused == {"code": 102, "message": f"You don't own the dataset {corpus.dataset_id}."}
