"""The embedded chat and agent widgets (``/api/v1/chatbots/*``, ``/api/v1/agentbots/*``) and the
beta token that alone opens them: streams, sessions, another tenant's ids, missing ids, and a
beta token refused everywhere else (an API key or a login refused on the bot routes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_agents import make_agent
from api.test_completions import CRANES, make_chat, reply
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.db.models import AgentSession, ChatSession
from ragserve.runtime import Runtime
from ragserve.settings import Settings

BAD_AUTHORIZATION = {"code": 102, "message": 'Authorization is not valid!"'}
INVALID_BETA = {"code": 102, "message": 'Authentication error: API key is invalid!"'}
MISSING_ID = "0" * 32


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key", "openai/fake-chat")


def beta_token(account: Account) -> str:
    """A new API token's beta twin, as the web page embedding a widget shows it."""
    made = account.post("/v1/system/new_token").json()
    assert made["code"] == 0, made
    beta: str = made["data"]["beta"]
    return beta


def beta_headers(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {beta_token(account)}"}


def events_of(text: str) -> list[Any]:
    blocks = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data:{") for block in blocks), blocks
    return [json.loads(block[len("data:") :]) for block in blocks]


def chatbot(account: Account, headers: dict[str, str], chat_id: str, **body: Any) -> Any:
    response = account.client.post(
        f"/api/v1/chatbots/{chat_id}/completions", json=body, headers=headers
    )
    assert response.status_code == 200
    if body.get("stream", True) is False or not response.headers["content-type"].startswith(
        "text/event-stream"
    ):
        return response.json()
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    return events_of(response.text)


def agentbot(account: Account, headers: dict[str, str], agent_id: str, **body: Any) -> Any:
    response = account.client.post(
        f"/api/v1/agentbots/{agent_id}/completions", json=body, headers=headers
    )
    assert response.status_code == 200
    if body.get("stream", True) is False or not response.headers["content-type"].startswith(
        "text/event-stream"
    ):
        return response.json()
    return events_of(response.text)  # every event is JSON: no [DONE] at the end


# --- the beta token ------------------------------------------------------------------------------


def test_bot_routes_take_only_a_beta_token(alice: Account, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [])
    info = f"/api/v1/chatbots/{chat_id}/info"
    assert alice.client.get(info).json() == BAD_AUTHORIZATION
    assert alice.client.get(info, headers={"Authorization": "Bearer"}).json() == BAD_AUTHORIZATION
    assert alice.client.get(info, headers={"Authorization": "a b c"}).json() == BAD_AUTHORIZATION
    # a login token is one word; an API key is no beta
    assert alice.client.get(info, headers=alice.web_headers).json() == BAD_AUTHORIZATION
    assert alice.client.get(info, headers=alice.api_headers).json() == INVALID_BETA
    wrong = {"Authorization": "Bearer not-a-beta-token"}
    assert alice.client.get(info, headers=wrong).json() == INVALID_BETA
    for path in ("/api/v1/searchbots/detail?search_id=x", "/api/v1/agentbots/x/inputs"):
        assert alice.client.get(path, headers=alice.api_headers).json() == INVALID_BETA
    for path in ("/api/v1/chatbots/x/completions", "/api/v1/agentbots/x/completions",
                 "/api/v1/searchbots/ask", "/api/v1/searchbots/retrieval_test",
                 "/api/v1/searchbots/related_questions", "/api/v1/searchbots/mindmap"):  # fmt: skip
        assert alice.client.post(path, json={}, headers=alice.api_headers).json() == INVALID_BETA
    headers = beta_headers(alice)
    assert alice.client.get(info, headers=headers).json()["code"] == 0


def test_a_beta_token_opens_nothing_else(alice: Account, runtime: Runtime) -> None:
    headers = beta_headers(alice)
    chat_id = make_chat(runtime, alice.id, [])
    refused = {"code": 109, "data": False, "message": "Authentication error: API key is invalid!"}
    assert alice.client.get("/api/v1/datasets", headers=headers).json() == refused
    completion = alice.client.post(f"/api/v1/chats/{chat_id}/completions", json={}, headers=headers)
    assert completion.json() == refused
    body = {"dataset_ids": ["x"], "question": "q"}
    assert alice.client.post("/api/v1/retrieval", json=body, headers=headers).json() == refused
    web = alice.client.post("/v1/search/list", json={}, headers=headers)
    assert web.status_code == 401 and web.json()["code"] == 401
    tokens = alice.client.get("/v1/system/token_list", headers=headers)
    assert tokens.status_code == 401


def test_a_revoked_token_takes_its_beta_along(alice: Account, runtime: Runtime) -> None:
    made = alice.post("/v1/system/new_token").json()["data"]
    headers = {"Authorization": f"Bearer {made['beta']}"}
    info = f"/api/v1/chatbots/{make_chat(runtime, alice.id, [])}/info"
    assert alice.client.get(info, headers=headers).json()["code"] == 0
    removed = alice.client.delete(f"/v1/system/token/{made['token']}", headers=alice.web_headers)
    assert removed.json()["code"] == 0
    assert alice.client.get(info, headers=headers).json() == INVALID_BETA


# --- chat bots -----------------------------------------------------------------------------------


def test_chatbot_info(alice: Account, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [], avatar="data:image/png;base64,AAAA")
    result = alice.client.get(f"/api/v1/chatbots/{chat_id}/info", headers=beta_headers(alice))
    assert result.json() == {
        "code": 0,
        "data": {
            "title": "assistant",
            "avatar": "data:image/png;base64,AAAA",
            "prologue": "Hello there!",
            "has_tavily_key": False,
        },
    }
    searching = make_chat(runtime, alice.id, [], prompt_config={"tavily_api_key": "tvly-key"})
    shown = alice.client.get(f"/api/v1/chatbots/{searching}/info", headers=beta_headers(alice))
    assert shown.json()["data"]["has_tavily_key"] is True


def test_chatbot_conversation_streams_and_is_stored(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    headers = beta_headers(alice)
    chat_id = make_chat(runtime, alice.id, [corpus.dataset_id])
    opening = chatbot(alice, headers, chat_id)
    assert opening[1] == {"code": 0, "message": "", "data": True}
    assert opening[0]["data"]["answer"] == "Hello there!" and opening[0]["data"]["id"] is None
    session_id = opening[0]["data"]["session_id"]

    events = chatbot(alice, headers, chat_id, session_id=session_id, question="Cranes?")
    assert events[-1] == {"code": 0, "data": True}
    deltas = [e["data"] for e in events[:-1] if e["data"].get("final") is False]
    [final] = [e["data"] for e in events[:-1] if e["data"].get("final") is True]
    assert "".join(d["answer"] for d in deltas) == f"{CRANES} That is all I know about it."
    assert final["reference"] == {}  # quote is off unless asked for
    with runtime.read() as session:
        row = session.get(ChatSession, session_id)
        assert row is not None and row.chat_id == chat_id
        assert [m["role"] for m in row.messages] == ["assistant", "user", "assistant"]
        assert "[ID:" not in row.messages[-1]["content"]

    quoted = chatbot(alice, headers, chat_id, session_id=session_id, question="Cranes?",
                     quote=True, stream=False)  # fmt: skip
    assert quoted["code"] == 0 and "[ID:0]" in quoted["data"]["answer"]
    assert quoted["data"]["reference"]["chunks"][0]["document_name"] == "cranes.md"


def test_chatbot_without_stream_opens_a_session(alice: Account, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [], prompt_config={"system": "Be nice.",
                        "parameters": []})  # fmt: skip
    headers = beta_headers(alice)
    opened = chatbot(alice, headers, chat_id, stream=False)
    assert opened["code"] == 0 and opened["data"]["answer"] == "Hello there!"
    session_id = opened["data"]["session_id"]
    answered = chatbot(alice, headers, chat_id, session_id=session_id, question="hi", stream=False)
    assert answered["data"]["answer"] == "Fake answer to: hi"


def test_chatbot_reaches_only_its_tenants_chats(
    alice: Account, bob: Account, runtime: Runtime
) -> None:
    alices = make_chat(runtime, alice.id, [])
    bobs_headers = beta_headers(bob)
    for chat_id in (alices, MISSING_ID):
        info = alice.client.get(f"/api/v1/chatbots/{chat_id}/info", headers=bobs_headers)
        assert info.json() == {"code": 102, "message": f"Can't find dialog by ID: {chat_id}"}
        refused = chatbot(bob, bobs_headers, chat_id, question="hi")
        assert refused == {"code": 102, "message": f"You don't own the chat {chat_id}"}
    # a session of alice's chat cannot be continued through another chat
    session_id = chatbot(alice, beta_headers(alice), alices, stream=False)["data"]["session_id"]
    bobs = make_chat(runtime, bob.id, [])
    stolen = chatbot(bob, bobs_headers, bobs, session_id=session_id, question="hi", stream=False)
    assert stolen == {"code": 102, "message": f"You don't own the session {session_id}"}


def test_chatbot_body_is_checked(alice: Account, runtime: Runtime) -> None:
    chat_id = make_chat(runtime, alice.id, [])
    bad = chatbot(alice, beta_headers(alice), chat_id, metadata_condition="x")
    assert bad == {"code": 102, "message": "metadata_condition must be an object."}


# --- agent bots ----------------------------------------------------------------------------------


def test_agentbot_streams_every_event_without_done(alice: Account, runtime: Runtime) -> None:
    agent = make_agent(alice)
    headers = beta_headers(alice)
    events = agentbot(alice, headers, agent, question="Hello agent")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert {"node_started", "node_finished", "message", "message_end"} <= set(kinds)
    [message] = [e for e in events if e["event"] == "message"]
    assert message["data"] == {"content": "Hello agent"} and message["task_id"] == agent
    session_id = message["session_id"]
    again = agentbot(alice, headers, agent, question="Twice", session_id=session_id, stream=False)
    assert again["code"] == 0 and again["data"]["event"] == "workflow_finished"
    assert again["data"]["data"]["content"] == "Twice"
    with runtime.read() as session:
        row = session.get(AgentSession, session_id)
        assert row is not None and row.round == 2
        assert [m["content"] for m in row.messages][-2:] == ["Twice", "Twice"]


def test_agentbot_inputs(alice: Account) -> None:
    dsl = {
        "components": {
            "begin": {
                "obj": {"component_name": "Begin", "params": {
                    "prologue": "Fill the form.", "mode": "task",
                    "inputs": {"city": {"name": "City", "type": "line", "optional": False}}}},
                "downstream": ["message"], "upstream": [],
            },
            "message": {
                "obj": {"component_name": "Message", "params": {"content": ["{begin@city}"]}},
                "downstream": [], "upstream": ["begin"],
            },
        }
    }  # fmt: skip
    agent = make_agent(alice, "form", dsl)
    shown = alice.client.get(f"/api/v1/agentbots/{agent}/inputs", headers=beta_headers(alice))
    assert shown.json() == {
        "code": 0,
        "data": {
            "title": "form",
            "avatar": None,
            "inputs": {"city": {"name": "City", "type": "line", "optional": False}},
            "prologue": "Fill the form.",
            "mode": "task",
        },
    }
    ran = agentbot(alice, beta_headers(alice), agent, inputs={"city": {"value": "Oslo"}},
                   stream=False)  # fmt: skip
    assert ran["data"]["data"]["content"] == "Oslo"


def test_agentbot_reaches_only_its_tenants_agents(alice: Account, bob: Account) -> None:
    agent = make_agent(alice)
    headers = beta_headers(bob)
    for agent_id in (agent, MISSING_ID):
        inputs = bob.client.get(f"/api/v1/agentbots/{agent_id}/inputs", headers=headers)
        assert inputs.json() == {"code": 102, "message": f"Can't find agent by ID: {agent_id}"}
        ran = agentbot(bob, headers, agent_id, question="hi")
        assert ran == {"code": 102, "message": "You do not own the agent."}
    session_id = agentbot(alice, beta_headers(alice), agent, question="hi")[0]["session_id"]
    bobs = make_agent(bob)
    stolen = agentbot(bob, headers, bobs, question="hi", session_id=session_id)
    assert stolen == {"code": 102, "message": "Session not found!"}


def test_agentbot_body_is_checked(alice: Account) -> None:
    agent = make_agent(alice)
    bad = agentbot(alice, beta_headers(alice), agent, inputs={"city": "Oslo"})
    assert bad == {"code": 101, "message": "`inputs.city` must be an object with a `value`."}
