"""ragflow-sdk's agent surface: ``list_agents``, ``create_agent``, ``update_agent``,
``delete_agent``, an agent's sessions and ``Session.ask`` on them, streamed and not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import Account
from ragserve.sdk import Agent, APIError, DataSet, Message, RAGFlow, Session
from sdk.conftest import BASE_URL, over


def tool_dsl(dataset_id: str) -> dict[str, Any]:
    """Begin → an Agent whose Retrieval tool searches the dataset → Message."""
    tool = {
        "component_name": "Retrieval",
        "name": "search",
        "params": {"kb_ids": [dataset_id], "similarity_threshold": 0.0},
    }
    return {"components": {
        "begin": {"obj": {"component_name": "Begin", "params": {"prologue": "Ask about owls."}},
                  "downstream": ["Agent:A"], "upstream": []},
        "Agent:A": {"obj": {"component_name": "Agent", "params": {
            "llm_id": "openai/fake-chat", "tools": [tool], "max_rounds": 1}},
                    "downstream": ["Message:M"], "upstream": ["begin"]},
        "Message:M": {"obj": {"component_name": "Message", "params": {"content": ["{Agent:A@content}"]}},
                      "downstream": [], "upstream": ["Agent:A"]},
    }}  # fmt: skip


@pytest.fixture
def agent(rag: RAGFlow, owls: DataSet) -> Agent:
    assert rag.create_agent("owl agent", tool_dsl(owls.id), description="Owls.") is None
    [found] = rag.list_agents(title="owl agent")
    return found


@pytest.fixture
def bobs(client: TestClient, bob: Account) -> Iterator[RAGFlow]:
    with RAGFlow(bob.api_key, BASE_URL, http_client=over(client)) as rag:
        yield rag


def cited(message: Message) -> str:
    key = re.search(r"\[ID:(\d+)\]", message.content)
    assert key is not None, message.content
    return key.group(1)


def test_agents_are_created_listed_updated_and_deleted(rag: RAGFlow, agent: Agent) -> None:
    assert agent.description == "Owls." and agent.dsl.to_json()["components"]["Agent:A"]
    assert agent.title == "owl agent"
    rag.update_agent(agent.id, title="owl agent 2", description="Barn owls.")
    [changed] = rag.list_agents(id=agent.id)
    assert (changed.title, changed.description) == ("owl agent 2", "Barn owls.")
    with pytest.raises(APIError, match="The agent doesn't exist"):  # RAGFlow's answer
        rag.list_agents(title="nothing like it")
    rag.delete_agent(agent.id)
    assert rag.list_agents() == []
    with pytest.raises(APIError):
        rag.delete_agent(agent.id)


def test_sessions_are_created_listed_and_deleted(agent: Agent) -> None:
    session = agent.create_session()
    assert isinstance(session, Session) and session.agent_id == agent.id
    second = agent.create_session(user_id="end-user-7")
    assert second.user_id == "end-user-7"
    assert {s.id for s in agent.list_sessions()} == {session.id, second.id}
    assert [s.id for s in agent.list_sessions(id=session.id)] == [session.id]
    agent.delete_sessions([session.id])
    assert [s.id for s in agent.list_sessions()] == [second.id]
    agent.delete_sessions()
    assert agent.list_sessions() == []


def test_ask_answers_with_the_reference(agent: Agent, owls: DataSet) -> None:
    session = agent.create_session()
    [message] = list(session.ask("How do barn owls hunt?"))
    key = cited(message)
    assert isinstance(message.reference, dict)
    chunk = message.reference[key]
    assert chunk["dataset_id"] == owls.id and "owls" in chunk["content"].lower()


def test_ask_streams_pieces_then_the_reference(agent: Agent, owls: DataSet) -> None:
    session = agent.create_session()
    with session.ask("How do barn owls hunt?", stream=True) as stream:
        messages = list(stream)
    *pieces, last = messages
    text = "".join(m.content for m in pieces)
    key = cited(Message(None, {"content": text}))
    assert len(pieces) >= 1 and last.content == ""
    assert isinstance(last.reference, dict) and last.reference[key]["dataset_id"] == owls.id
    [listed] = agent.list_sessions(id=session.id)
    assert [m["role"] for m in listed.messages][-2:] == ["user", "assistant"]


def test_another_tenant_cannot_use_the_agent(agent: Agent, bobs: RAGFlow) -> None:
    assert bobs.list_agents() == []
    with pytest.raises(APIError):
        bobs.delete_agent(agent.id)
    with pytest.raises(APIError):
        bobs.update_agent(agent.id, title="mine")
    theirs = Agent(bobs, {"id": agent.id})
    with pytest.raises(APIError):
        theirs.create_session()
    session = agent.create_session()
    stolen = Session(bobs, {"id": session.id, "agent_id": agent.id})
    with pytest.raises(APIError):
        list(stolen.ask("owls?"))


def test_a_broken_dsl_is_refused_when_a_session_opens(rag: RAGFlow) -> None:
    broken = {"components": {"begin": {"obj": {"component_name": "Begin", "params": {}},
                                       "downstream": ["gone"], "upstream": []}}}  # fmt: skip
    rag.create_agent("broken", broken)
    [agent] = rag.list_agents(title="broken")
    with pytest.raises(APIError, match="gone"):
        agent.create_session()
