"""POST /api/v1/agents/{id}/completions and the OpenAI-compatible agent route, against the fake
model server over HTTP and a parsed dataset."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_agent_sessions import open_session
from api.test_agents import ECHO_DSL, make_agent
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.db.models import AgentSession
from ragserve.runtime import Runtime
from ragserve.settings import Settings


def reply(messages: list[dict[str, Any]]) -> str:
    system = str(messages[0].get("content", "")) if messages[0].get("role") == "system" else ""
    cited = re.search(r"ID: (\d+)", system)
    if cited and "[ID:n]" in system:
        return f"Cranes migrate every autumn [ID:{cited.group(1)}]."
    return f"Fake answer to: {messages[-1]['content']}"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key")


def rag_dsl(dataset_id: str) -> dict[str, Any]:
    def node(name: str, params: dict[str, Any], down: list[str]) -> dict[str, Any]:
        return {
            "obj": {"component_name": name, "params": params},
            "downstream": down,
            "upstream": [],
        }

    return {
        "components": {
            "begin": node("Begin", {"prologue": "Ask me about birds."}, ["Retrieval:Find"]),
            "Retrieval:Find": node("Retrieval", {"kb_ids": [dataset_id], "top_n": 2,
                                                 "similarity_threshold": 0.0}, ["LLM:Say"]),
            "LLM:Say": node("LLM", {"llm_id": "openai/fake-chat",
                                    "sys_prompt": "Passages:\n{Retrieval:Find@formalized_content}"},
                            ["Message:Out"]),
            "Message:Out": node("Message", {"content": ["{LLM:Say@content}"]}, []),
        }
    }  # fmt: skip


def run(account: Account, agent: str, **body: Any) -> Any:
    response = account.client.post(
        f"/api/v1/agents/{agent}/completions", json=body, headers=account.api_headers
    )
    assert response.status_code == 200
    if body.get("stream", True) is False:
        return response.json()
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    blocks = [block for block in response.text.split("\n\n") if block]
    assert blocks[-1] == "data:[DONE]"
    assert all(block.startswith("data:{") for block in blocks[:-1]), blocks
    return [json.loads(block[len("data:") :]) for block in blocks[:-1]]


def stored(runtime: Runtime, session_id: str) -> AgentSession:
    with runtime.read() as session:
        row = session.get(AgentSession, session_id)
        assert row is not None
        session.expunge(row)
        return row


def test_stream_forwards_messages_and_node_events(alice: Account, runtime: Runtime) -> None:
    agent = make_agent(alice)
    events = run(alice, agent, question="Hello agent")
    assert [e["event"] for e in events] == [
        "node_finished",
        "message",
        "message_end",
        "node_finished",
    ]
    message = events[1]
    assert message["data"] == {"content": "Hello agent"}
    assert message["task_id"] == agent and len(message["message_id"]) == 32
    assert isinstance(message["created_at"], int)
    session_id = message["session_id"]
    assert {e["session_id"] for e in events} == {session_id}
    finished = events[-1]["data"]
    assert finished["component_id"] == "message" and finished["component_type"] == "Message"
    assert finished["outputs"]["content"] == "Hello agent" and finished["error"] is None
    assert "trace" not in finished
    row = stored(runtime, session_id)
    assert [(m["role"], m["content"]) for m in row.messages] == [
        ("assistant", "Hi, I echo."), ("user", "Hello agent"), ("assistant", "Hello agent"),
    ]  # fmt: skip
    assert row.round == 1 and row.errors is None
    assert row.dsl["history"] == [["user", "Hello agent"], ["assistant", "Hello agent"]]


def test_not_streamed_answer_is_workflow_finished(alice: Account) -> None:
    agent = make_agent(alice)
    result = run(alice, agent, query="Once more", stream=False, return_trace=True)
    assert result["code"] == 0
    event = result["data"]
    assert event["event"] == "workflow_finished"
    assert event["data"]["content"] == "Once more" and event["data"]["reference"] == {}
    assert [t["component_id"] for t in event["data"]["trace"]] == ["begin", "message"]
    assert event["data"]["outputs"]["content"] == "Once more"


def test_trace_in_stream(alice: Account) -> None:
    agent = make_agent(alice)
    events = run(alice, agent, question="q", return_trace=True)
    last = events[-1]["data"]
    assert [t["component_id"] for t in last["trace"]] == ["begin", "message"]


def test_session_keeps_its_dsl_and_history(alice: Account, runtime: Runtime) -> None:
    agent = make_agent(alice)
    session_id = open_session(alice, agent)["data"]["id"]
    changed = json.loads(json.dumps(ECHO_DSL))
    changed["components"]["message"]["obj"]["params"]["content"] = ["changed: {sys.query}"]
    alice.client.put(f"/api/v1/agents/{agent}", json={"dsl": changed}, headers=alice.api_headers)
    first = run(alice, agent, question="one", session_id=session_id, stream=False)
    second = run(alice, agent, question="two", session_id=session_id, stream=False)
    assert first["data"]["data"]["content"] == "one" and second["data"]["data"]["content"] == "two"
    assert stored(runtime, session_id).dsl["globals"]["sys.conversation_turns"] == 2
    fresh = run(alice, agent, question="three", stream=False)
    assert fresh["data"]["data"]["content"] == "changed: three"


def test_isolation_and_missing(alice: Account, bob: Account) -> None:
    agent = make_agent(alice)
    session_id = open_session(alice, agent)["data"]["id"]
    bobs_agent = make_agent(bob)
    refused = {"code": 102, "message": "You do not own the agent."}
    assert run(bob, agent, question="x", stream=False) == refused
    response = bob.client.post(f"/api/v1/agents/{agent}/completions", json={"question": "x"},
                               headers=bob.api_headers)  # fmt: skip
    assert response.json() == refused
    stolen = run(bob, bobs_agent, question="x", session_id=session_id, stream=False)
    assert stolen == {"code": 102, "message": "Session not found!"}
    assert run(alice, "0" * 32, question="x", stream=False) == refused


def test_validation(alice: Account) -> None:
    agent = make_agent(alice)
    bad = run(alice, agent, question="x", stream=False, inputs={"name": "bare"})
    assert bad == {"code": 101, "message": "`inputs.name` must be an object with a `value`."}
    response = alice.client.post(f"/api/v1/agents/{agent}/completions",
                                 json={"question": "x", "stream": "maybe"}, headers=alice.api_headers)  # fmt: skip
    assert response.json()["code"] == 101
    broken = {"components": {"begin": ECHO_DSL["components"]["begin"]}}
    broken["components"]["begin"] = {**broken["components"]["begin"], "downstream": ["gone"]}
    agent = make_agent(alice, "broken", broken)
    refused = run(alice, agent, question="x", stream=False)
    assert refused == {
        "code": 101,
        "message": "Component `begin`: it leads to `gone`, which is not a component of this DSL.",
    }


def test_retrieval_answer_cites_the_dataset(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    agent = make_agent(alice, "rag", rag_dsl(corpus.dataset_id))
    events = run(alice, agent, question="When do whooping cranes migrate?")
    text = "".join(e["data"]["content"] for e in events if e["event"] == "message")
    key = re.search(r"\[ID:(\d+)\]", text)
    assert key is not None, text
    [end] = [e["data"] for e in events if e["event"] == "message_end"]
    chunk = end["reference"]["chunks"][key.group(1)]
    assert chunk["dataset_id"] == corpus.dataset_id
    assert chunk["document_id"] == corpus.documents["cranes.md"]
    assert "cranes" in chunk["content"].lower()
    assert "cranes.md" in end["reference"]["doc_aggs"]
    session_id = events[0]["session_id"]
    assert stored(runtime, session_id).reference[0]["chunks"][key.group(1)]["id"] == chunk["id"]
    plain = run(alice, agent, question="When do whooping cranes migrate?", stream=False)
    assert plain["data"]["data"]["reference"]["chunks"]


def test_agent_tool_retrieves_from_the_dataset(
    alice: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    """The model (the fake) calls the Agent's Retrieval tool; the search runs on the real
    dataset and the cited answer's reference is that dataset's chunk."""
    tool = {
        "component_name": "Retrieval",
        "name": "search_birds",
        "params": {"kb_ids": [corpus.dataset_id], "top_n": 2, "similarity_threshold": 0.0},
    }
    dsl = {"components": {
        "begin": {"obj": {"component_name": "Begin", "params": {}}, "downstream": ["Agent:A"]},
        "Agent:A": {"obj": {"component_name": "Agent", "params": {
            "llm_id": "openai/fake-chat", "sys_prompt": "Answer from the knowledge base.",
            "tools": [tool], "max_rounds": 1}}, "downstream": ["Message:Out"]},
        "Message:Out": {"obj": {"component_name": "Message",
                                "params": {"content": ["{Agent:A@content}"]}}},
    }}  # fmt: skip
    agent = make_agent(alice, "tool agent", dsl)
    events = run(alice, agent, question="When do whooping cranes migrate?")
    text = "".join(e["data"]["content"] for e in events if e["event"] == "message")
    key = re.search(r"\[ID:(\d+)\]", text)
    assert key is not None and text.startswith("According to search_birds"), text
    [end] = [e["data"] for e in events if e["event"] == "message_end"]
    chunk = end["reference"]["chunks"][key.group(1)]
    assert chunk["dataset_id"] == corpus.dataset_id
    assert "cranes" in chunk["content"].lower()
    called = [r.body for r in fake.requests if r.body.get("tools")]
    assert called[0]["tools"][0]["function"]["name"] == "search_birds"
    assert called[1]["messages"][-1]["role"] == "tool"
    plain = run(alice, agent, question="When do whooping cranes migrate?", stream=False)
    assert plain["data"]["data"]["reference"]["chunks"]


def test_agent_tool_on_another_tenants_dataset_finds_nothing(
    alice: Account, bob: Account, corpus: Corpus, fake: FakeOpenAI
) -> None:
    tool = {
        "component_name": "Retrieval",
        "name": "search",
        "params": {"kb_ids": [corpus.dataset_id], "similarity_threshold": 0.0},
    }
    dsl = {"components": {
        "begin": {"obj": {"component_name": "Begin", "params": {}}, "downstream": ["Agent:A"]},
        "Agent:A": {"obj": {"component_name": "Agent", "params": {
            "llm_id": "openai/fake-chat", "tools": [tool]}}, "downstream": ["Message:Out"]},
        "Message:Out": {"obj": {"component_name": "Message",
                                "params": {"content": ["{Agent:A@content}"]}}},
    }}  # fmt: skip
    agent = make_agent(bob, "thief agent", dsl)
    result = run(bob, agent, question="When do whooping cranes migrate?", stream=False)
    refusal = f"The tool failed: You don't own the dataset {corpus.dataset_id}."
    assert result["data"]["data"]["content"] == f"According to search: {refusal}"
    assert not result["data"]["data"].get("reference", {}).get("chunks")
    [told] = [r.body["messages"][-1] for r in fake.requests if r.body.get("tools")][1:]
    assert told == {"role": "tool", "tool_call_id": "call_fake_0", "content": refusal}


def test_retrieval_of_another_tenants_dataset_fails_the_run(
    alice: Account, bob: Account, corpus: Corpus
) -> None:
    agent = make_agent(bob, "thief", rag_dsl(corpus.dataset_id))
    result = run(bob, agent, question="cranes", stream=False)
    assert result["data"]["data"]["content"] == (
        f"**ERROR**: You don't own the dataset {corpus.dataset_id}."
    )


def test_user_fill_up_pauses_and_resumes(alice: Account, runtime: Runtime) -> None:
    dsl = {
        "components": {
            "begin": {"obj": {"component_name": "Begin", "params": {}}, "downstream": ["ask"]},
            "ask": {"obj": {"component_name": "UserFillUp", "params": {
                "inputs": {"city": {"name": "City", "type": "line", "optional": False}},
                "tips": "Which city?"}}, "downstream": ["say"]},
            "say": {"obj": {"component_name": "Message", "params": {"content": ["Off to {ask@city}."]}}},
        }
    }  # fmt: skip
    agent = make_agent(alice, "travel", dsl)
    waiting = run(alice, agent, question="plan a trip", stream=False)["data"]
    assert waiting["event"] == "user_inputs"
    assert waiting["data"]["tips"] == "Which city?" and "city" in waiting["data"]["inputs"]
    session_id = waiting["session_id"]
    resumed = run(
        alice, agent, session_id=session_id, inputs={"city": {"value": "Oslo", "type": "line"}}
    )
    assert (
        "".join(e["data"]["content"] for e in resumed if e["event"] == "message") == "Off to Oslo."
    )
    again = run(alice, agent, question="again", session_id=session_id, stream=False)["data"]
    assert again["event"] == "user_inputs"  # a new turn asks again
    assert stored(runtime, session_id).dsl["paused_at"] == "ask"


def test_openai_route(alice: Account, bob: Account, runtime: Runtime) -> None:
    agent = make_agent(alice)
    url = f"/api/v1/agents_openai/{agent}/chat/completions"
    body = {
        "model": "any",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Hi"}],
    }
    answer = alice.client.post(url, json=body, headers=alice.api_headers)
    assert answer.status_code == 200
    data = answer.json()
    assert data["object"] == "chat.completion" and data["model"] == agent
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "Hi"}
    assert (
        data["usage"]["total_tokens"]
        == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    session_id = data["id"]
    again = alice.client.post(url, json={**body, "session_id": session_id, "messages": [
        {"role": "user", "content": "Again"}]}, headers=alice.api_headers).json()  # fmt: skip
    assert again["id"] == session_id
    assert stored(runtime, session_id).round == 2

    streamed = alice.client.post(url, json={**body, "stream": True}, headers=alice.api_headers)
    blocks = [b for b in streamed.text.split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(b[len("data: ") :]) for b in blocks[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hi"
    assert (
        chunks[-1]["choices"][0]["finish_reason"] == "stop"
        and chunks[-1]["usage"]["total_tokens"] > 0
    )

    none = alice.client.post(url, json={"model": "m", "messages": [{"role": "system", "content": "s"}]},
                             headers=alice.api_headers).json()  # fmt: skip
    assert (
        none["choices"][0]["message"]["content"] == "No valid messages found (user or assistant)."
    )
    missing = alice.client.post(
        url, json={"messages": [{"role": "user", "content": "x"}]}, headers=alice.api_headers
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "required argument are missing: model; "
    empty = alice.client.post(url, json={"model": "m", "messages": []}, headers=alice.api_headers)
    assert empty.status_code == 400
    assert empty.json()["error"]["message"] == "You must provide at least one message."
    other = bob.client.post(url, json=body, headers=bob.api_headers)
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    assert alice.client.post(url, json=body).status_code == 401
