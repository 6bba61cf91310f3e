"""GraphRAG (``run_graphrag``, ``trace_graphrag``, ``knowledge_graph``, ``use_kg``): the fake
model names each run of capitalised words as an entity and relates neighbours, so the graph
of a corpus is known in advance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.test_auto_keywords import chat_calls
from api.test_completions import ask, make_chat, new_session
from api.test_dify import dify, dify_body, records
from api.test_parsing import new_dataset, parse, upload
from api.test_retrieval import found
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.app import create_app
from ragserve.rag import prompt
from ragserve.runtime import Runtime
from ragserve.services.graphrag import NO_MODEL
from ragserve.settings import Settings

UNKNOWN_ID = "9b3f0c2a1c2b11ef8a3e0242ac120002"
CORPUS = {
    "cranes.txt": "Whooping Cranes winter in Texas. Whooping Cranes nest in Canada.",
    "rivers.txt": "Texas borders Mexico along the Rio Grande.",
    "crane.txt": "The Whooping Crane is rare.",
}
GRAPH = {"entity_types": ["place"], "method": "light"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def corpus(account: Account, **graphrag: Any) -> str:
    config = {"graphrag": {**GRAPH, **graphrag}, "chunk_token_num": 512}
    dataset_id = new_dataset(account, name="graph", parser_config=config)
    ids = [upload(account, dataset_id, name, text.encode()) for name, text in CORPUS.items()]
    assert parse(account, dataset_id, ids) == {"code": 0}
    return dataset_id


def call(account: Account, method: str, dataset_id: str, action: str) -> dict[str, Any]:
    response = account.client.request(
        method, f"/api/v1/datasets/{dataset_id}/{action}", headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def graph_of(account: Account, dataset_id: str) -> dict[str, Any]:
    result = call(account, "GET", dataset_id, "knowledge_graph")
    assert result["code"] == 0, result
    data: dict[str, Any] = result["data"]
    return data


def test_run_graphrag_builds_one_graph_for_the_dataset(alice: Account, fake: FakeOpenAI) -> None:
    dataset_id = corpus(alice)
    assert graph_of(alice, dataset_id) == {"graph": {}, "mind_map": {}}
    assert call(alice, "GET", dataset_id, "trace_graphrag") == {"code": 0, "data": {}}

    queued = call(alice, "POST", dataset_id, "run_graphrag")
    assert queued["code"] == 0, queued
    task_id = queued["data"]["graphrag_task_id"]
    trace = call(alice, "GET", dataset_id, "trace_graphrag")["data"]
    assert (trace["id"], trace["task_type"], trace["progress"]) == (task_id, "graphrag", 1.0)
    assert "Extracted 6 entities and 4 relations." in trace["progress_msg"]
    assert trace["progress_msg"].endswith("GraphRAG done.")

    graph = graph_of(alice, dataset_id)["graph"]
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert set(nodes) == {
        "WHOOPING CRANES", "TEXAS", "CANADA", "MEXICO", "RIO GRANDE", "WHOOPING CRANE",
    }  # fmt: skip
    texas = nodes["TEXAS"]
    assert texas["entity_type"] == "place" and len(texas["source_id"]) == 2  # two documents
    assert texas["rank"] == 3 and texas["pagerank"] == max(n["pagerank"] for n in nodes.values())
    assert [n["pagerank"] for n in graph["nodes"]] == sorted(
        (n["pagerank"] for n in graph["nodes"]), reverse=True
    )
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert len(edges) == 4 and all(e["weight"] == 5.0 for e in graph["edges"])
    assert {"source", "target", "src_id", "tgt_id", "description", "keywords", "weight",
            "source_id"} == set(graph["edges"][0])  # fmt: skip
    [asked, *_] = chat_calls(fake, prompt.GRAPH_EXTRACT_PROMPT)
    assert "type is one of: place" in asked["messages"][0]["content"]
    assert len(chat_calls(fake, prompt.GRAPH_EXTRACT_PROMPT)) == 3  # one per chunk ("light")


def test_general_gleans_and_resolution_and_communities_run_when_asked(
    alice: Account, fake: FakeOpenAI
) -> None:
    dataset_id = corpus(alice, method="general", resolution=True, community=True)
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    trace = call(alice, "GET", dataset_id, "trace_graphrag")["data"]
    assert trace["progress"] == 1.0, trace["progress_msg"]
    assert "Entity resolution merged 1 entities." in trace["progress_msg"]
    graph = graph_of(alice, dataset_id)["graph"]
    names = {node["id"] for node in graph["nodes"]}
    assert "WHOOPING CRANE" not in names and "WHOOPING CRANES" in names  # the same bird
    merged = next(n for n in graph["nodes"] if n["id"] == "WHOOPING CRANES")
    assert len(merged["source_id"]) == 2
    gleaned = [b for b in fake.requests if len(b.body.get("messages", [])) == 4]
    assert len(gleaned) == 3  # one gleaning round per chunk
    assert "community reports." in trace["progress_msg"]


def test_use_kg_puts_the_graphs_passage_first(alice: Account) -> None:
    dataset_id = corpus(alice, community=True)
    question = "Where do Whooping Cranes winter?"
    plain = found(alice, dataset_ids=[dataset_id], question=question)
    assert all(hit["document_keyword"] != "Related content in Knowledge Graph" for hit in plain)
    # no graph yet: use_kg changes nothing
    assert found(alice, dataset_ids=[dataset_id], question=question, use_kg=True) == plain

    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    hits = found(alice, dataset_ids=[dataset_id], question=question, use_kg=True)
    first = hits[0]
    assert first["document_keyword"] == "Related content in Knowledge Graph"
    assert first["id"] == "" and first["similarity"] == 1.0
    assert "WHOOPING CRANES,place," in first["content"]
    assert "---- Relations ----" in first["content"]
    assert "WHOOPING CRANES,TEXAS," in first["content"]
    assert "---- Community Report ----" in first["content"]
    assert hits[1:] == plain


def test_delete_removes_the_graph(alice: Account) -> None:
    dataset_id = corpus(alice)
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    assert graph_of(alice, dataset_id)["graph"]["nodes"]
    assert call(alice, "DELETE", dataset_id, "knowledge_graph") == {"code": 0, "data": True}
    assert graph_of(alice, dataset_id) == {"graph": {}, "mind_map": {}}
    hits = found(alice, dataset_ids=[dataset_id], question="Texas", use_kg=True)
    assert all(hit["id"] for hit in hits)


def test_a_second_run_is_refused_while_one_runs_and_pays_nothing_again(
    alice: Account, fake: FakeOpenAI
) -> None:
    dataset_id = corpus(alice)
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    before = len(chat_calls(fake))
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    assert len(chat_calls(fake)) == before  # every extraction answered from the cache


def test_another_tenants_or_an_unknown_dataset_is_not_reachable(
    alice: Account, bob: Account
) -> None:
    dataset_id = corpus(alice)
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    refused = {"code": 109, "message": "No authorization."}
    for method, action in (
        ("POST", "run_graphrag"),
        ("GET", "trace_graphrag"),
        ("GET", "knowledge_graph"),
        ("DELETE", "knowledge_graph"),
    ):
        assert call(bob, method, dataset_id, action) == refused, action
        assert call(alice, method, UNKNOWN_ID, action) == refused, action
    assert graph_of(alice, dataset_id)["graph"]["nodes"]  # bob's delete did nothing
    refused_search = bob.client.post(
        "/api/v1/retrieval",
        json={"dataset_ids": [dataset_id], "question": "Texas", "use_kg": True},
        headers=bob.api_headers,
    ).json()
    assert (
        refused_search["code"] == 102 and "You don't own the dataset" in refused_search["message"]
    )


def test_refusals_without_documents_or_model(alice: Account, tmp_path: Path) -> None:
    empty = new_dataset(alice, name="empty")
    assert call(alice, "POST", empty, "run_graphrag") == {
        "code": 102,
        "message": f"No documents in Dataset {empty}",
    }
    with TestClient(create_app(Settings(home=tmp_path / "none", workers=0))) as client:
        carol = Account(client, "carol@example.com")
        dataset_id = new_dataset(carol, name="plain")
        upload(carol, dataset_id, "a.txt", b"some text")
        assert call(carol, "POST", dataset_id, "run_graphrag") == {"code": 102, "message": NO_MODEL}


def test_use_kg_in_dify_and_in_a_chat(alice: Account, runtime: Runtime) -> None:
    dataset_id = corpus(alice)
    assert call(alice, "POST", dataset_id, "run_graphrag")["code"] == 0
    question = "Where do Whooping Cranes winter?"

    plain = records(dify(alice, dify_body(dataset_id, question)))
    with_graph = records(dify(alice, dify_body(dataset_id, question, use_kg=True)))
    assert with_graph[0]["title"] == "Related content in Knowledge Graph"
    assert "WHOOPING CRANES" in with_graph[0]["content"]
    assert with_graph[1:] == plain

    chat_id = make_chat(runtime, alice.id, [dataset_id], prompt_config={"use_kg": True})
    session_id = new_session(alice, chat_id)
    answer = ask(alice, chat_id, question=question, session_id=session_id, stream=False)
    assert answer["code"] == 0, answer
    chunks = answer["data"]["reference"]["chunks"]
    assert chunks[0]["document_name"] == "Related content in Knowledge Graph"
    assert "---- Entities ----" in chunks[0]["content"]
