"""The web twins of the dataset tasks (``/v1/kb/run_*``, ``trace_*``, ``knowledge_graph``),
the dataset mind map, and ``unbind_task``, which cancels a task and deletes its output."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.test_auto_keywords import parsed_corpus
from api.test_graphrag import CORPUS, GRAPH
from api.test_parsing import new_dataset, parse, upload
from api.test_retrieval import found
from conftest import Account
from helpers.fake_openai import FakeOpenAI, default_reply
from ragserve.app import create_app
from ragserve.rag.mindmap import MINDMAP_PROMPT
from ragserve.settings import Settings

UNKNOWN_ID = "9b3f0c2a1c2b11ef8a3e0242ac120002"
SUMMARY = "Fake answer to: Please summarize"


def outline(messages: list[dict[str, Any]]) -> str:
    """Mind-map prompts get an outline titled with the text's first words."""
    if messages[0]["content"] == MINDMAP_PROMPT:
        first = str(messages[-1]["content"]).split(".")[0]
        return f"# {' '.join(first.split()[:2])}\n## Gist\n- {first}"
    return default_reply(messages)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=outline) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def web(account: Account, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = account.client.request(
        method, f"/v1/kb/{path}", headers=account.web_headers, **kwargs
    )
    result: dict[str, Any] = response.json()
    return result


def summaries(account: Account, dataset_id: str) -> list[str]:
    hits = found(
        account,
        dataset_ids=[dataset_id],
        question="cranes turbofan dough",
        vector_similarity_weight=0.0,
        similarity_threshold=0.0,
    )
    return [hit["id"] for hit in hits if hit["content"].startswith(SUMMARY)]


def test_raptor_through_the_web_routes_and_unbind(alice: Account) -> None:
    dataset_id, _documents = parsed_corpus(alice)
    assert web(alice, "GET", "trace_raptor", params={"kb_id": dataset_id})["data"] == {}
    queued = web(alice, "POST", "run_raptor", json={"kb_id": dataset_id})
    assert queued["code"] == 0 and queued["message"] == "success", queued
    trace = web(alice, "GET", "trace_raptor", params={"kb_id": dataset_id})["data"]
    assert (trace["id"], trace["progress"]) == (queued["data"]["raptor_task_id"], 1.0)
    assert len(summaries(alice, dataset_id)) == 2

    params = {"kb_id": dataset_id, "pipeline_task_type": "RAPTOR"}
    assert web(alice, "DELETE", "unbind_task", params=params) == {
        "code": 0,
        "message": "success",
        "data": True,
    }
    assert summaries(alice, dataset_id) == []


def test_graph_and_mind_map_through_the_web_routes(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="graph", parser_config={"graphrag": GRAPH})
    ids = [upload(alice, dataset_id, name, text.encode()) for name, text in CORPUS.items()]
    assert parse(alice, dataset_id, ids) == {"code": 0}
    assert web(alice, "POST", "run_graphrag", json={"kb_id": dataset_id})["code"] == 0
    queued = web(alice, "POST", "run_mindmap", json={"kb_id": dataset_id})
    assert queued["code"] == 0, queued
    trace = web(alice, "GET", "trace_mindmap", params={"kb_id": dataset_id})["data"]
    assert (trace["id"], trace["task_type"], trace["progress"]) == (
        queued["data"]["mindmap_task_id"], "mindmap", 1.0,
    )  # fmt: skip
    shown = web(alice, "GET", f"{dataset_id}/knowledge_graph")["data"]
    assert shown["mind_map"] == {
        "id": "graph",
        "children": [
            {"id": "Whooping Cranes", "children": [
                {"id": "Gist", "children": [{"id": "Whooping Cranes winter in Texas"}]}]},
            {"id": "Texas borders", "children": [
                {"id": "Gist", "children": [{"id": "Texas borders Mexico along the Rio Grande"}]}]},
            {"id": "The Whooping", "children": [
                {"id": "Gist", "children": [{"id": "The Whooping Crane is rare"}]}]},
        ],
    }  # fmt: skip
    assert len(shown["graph"]["nodes"]) == 6
    listed = alice.client.get(
        "/api/v1/datasets", params={"id": dataset_id}, headers=alice.api_headers
    ).json()["data"][0]
    assert listed["mindmap_task_id"] == queued["data"]["mindmap_task_id"]

    mindmap = {"kb_id": dataset_id, "pipeline_task_type": "Mindmap"}
    assert web(alice, "DELETE", "unbind_task", params=mindmap)["data"] is True
    shown = web(alice, "GET", f"{dataset_id}/knowledge_graph")["data"]
    assert shown["mind_map"] == {} and shown["graph"]["nodes"]  # the graph stays
    graph = {"kb_id": dataset_id, "pipeline_task_type": "GraphRAG"}
    assert web(alice, "DELETE", "unbind_task", params=graph)["data"] is True
    assert web(alice, "GET", f"{dataset_id}/knowledge_graph")["data"] == {
        "graph": {},
        "mind_map": {},
    }
    assert web(alice, "POST", "run_graphrag", json={"kb_id": dataset_id})["code"] == 0
    assert web(alice, "DELETE", f"{dataset_id}/knowledge_graph")["data"] is True
    assert web(alice, "GET", f"{dataset_id}/knowledge_graph")["data"]["graph"] == {}


def test_web_routes_are_checked(alice: Account, bob: Account) -> None:
    dataset_id, _documents = parsed_corpus(alice)
    refused = {"code": 109, "message": "No authorization.", "data": None}
    for other in (dataset_id, UNKNOWN_ID):
        got = web(bob, "POST", "run_raptor", json={"kb_id": other})
        assert (got["code"], got["message"]) == (109, "No authorization."), got
        got = web(bob, "GET", "trace_graphrag", params={"kb_id": other})
        assert (got["code"], got["message"]) == (109, "No authorization."), got
        params = {"kb_id": other, "pipeline_task_type": "RAPTOR"}
        got = web(bob, "DELETE", "unbind_task", params=params)
        assert (got["code"], got["message"]) == (109, "No authorization."), got
        got = web(bob, "GET", f"{other}/knowledge_graph")
        assert (got["code"], got["message"]) == (refused["code"], refused["message"]), got
    bad = web(
        alice, "DELETE", "unbind_task", params={"kb_id": dataset_id, "pipeline_task_type": "x"}
    )
    assert bad["code"] == 101 and "pipeline_task_type" in bad["message"], bad
    missing = web(alice, "POST", "run_raptor", json={})
    assert missing["code"] == 101 and "kb_id" in missing["message"], missing
    anonymous = alice.client.post("/v1/kb/run_raptor", json={"kb_id": dataset_id})
    assert anonymous.status_code == 401


def test_unbind_stops_a_running_build(tmp_path: Path, fake: FakeOpenAI) -> None:
    home = tmp_path / "held"
    with TestClient(create_app(fake.settings(home, "sk-test"))) as client:
        account = Account(client, "carol@example.com")
        dataset_id, _documents = parsed_corpus(account)
    with TestClient(create_app(fake.settings(home, "held"))) as client:  # model calls wait
        account.client = client
        answers: dict[str, Any] = {}
        running = threading.Thread(
            target=lambda: answers.update(
                run=web(account, "POST", "run_raptor", json={"kb_id": dataset_id})
            )
        )
        running.start()
        try:
            fake.wait_held(1)
            trace = web(account, "GET", "trace_raptor", params={"kb_id": dataset_id})["data"]
            assert trace["progress"] < 1.0 and "RAPTOR over 3 chunks" in trace["progress_msg"]
            params = {"kb_id": dataset_id, "pipeline_task_type": "RAPTOR"}
            assert web(account, "DELETE", "unbind_task", params=params)["data"] is True
        finally:
            fake.release()
            running.join(timeout=60)
        assert answers["run"]["code"] == 0
        trace = web(account, "GET", "trace_raptor", params={"kb_id": dataset_id})["data"]
        assert trace["progress"] == -1.0
        assert summaries(account, dataset_id) == []
        held = [r for r in fake.requests if r.api_key == "held"]
        assert len(held) == 1  # no call after the cancel
