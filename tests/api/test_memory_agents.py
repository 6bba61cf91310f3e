"""Memories in agents: a Message component with ``memory_ids`` keeps each turn (question and
answer) in those memories, with the agent's and session's ids; a Retrieval component with
``memory_ids`` finds what was kept and hands it on (here to a Message that says it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_agent_completions import run
from api.test_agents import make_agent
from api.test_memories import MISSING, add_turn, call, new_memory
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def node(name: str, params: dict[str, Any], down: list[str]) -> dict[str, Any]:
    return {"obj": {"component_name": name, "params": params}, "downstream": down, "upstream": []}


def remembering_dsl(memory_ids: list[str]) -> dict[str, Any]:
    return {
        "components": {
            "begin": node("Begin", {"prologue": "Hi."}, ["Message:Out"]),
            "Message:Out": node(
                "Message", {"content": ["You said: {sys.query}"], "memory_ids": memory_ids}, []
            ),
        }
    }


def recalling_dsl(memory_ids: list[str]) -> dict[str, Any]:
    return {
        "components": {
            "begin": node("Begin", {"prologue": "Hi."}, ["Retrieval:Recall"]),
            "Retrieval:Recall": node(
                "Retrieval",
                {
                    "memory_ids": memory_ids,
                    "keywords_similarity_weight": 1.0,
                    "similarity_threshold": 0.1,
                    "empty_response": "Nothing remembered.",
                },
                ["Message:Out"],
            ),
            "Message:Out": node(
                "Message", {"content": ["{Retrieval:Recall@formalized_content}"]}, []
            ),
        }
    }


def test_a_message_component_keeps_the_turn(alice: Account) -> None:
    memory_id = new_memory(alice, types=["raw", "semantic"])
    agent = make_agent(alice, "remembers", remembering_dsl([memory_id, MISSING]))
    result = run(alice, agent, question="my dog is Rex", stream=False)
    assert result["code"] == 0, result
    assert result["data"]["data"]["content"] == "You said: my dog is Rex"
    body = call(alice, "GET", f"/memories/{memory_id}")
    [turn] = body["data"]["messages"]["message_list"]
    assert turn["content"] == "User Input: my dog is Rex\nAgent Response: You said: my dog is Rex"
    assert turn["agent_id"] == agent and turn["agent_name"] == "remembers"
    assert turn["session_id"] == result["data"]["session_id"]
    assert [i["content"] for i in turn["extract"]] == ["semantic: my dog is Rex"]


def test_a_retrieval_component_reads_memories(alice: Account, bob: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "my dog is called Rex")
    agent = make_agent(alice, "recalls", recalling_dsl([memory_id]))
    result = run(alice, agent, question="what is my dog called", stream=False)
    assert result["data"]["data"]["content"] == (
        "Memory: User Input: my dog is called Rex\nAgent Response: Noted."
    )
    # another tenant's memory: nothing found
    bobs = make_agent(bob, "recalls", recalling_dsl([memory_id]))
    result = run(bob, bobs, question="what is my dog called", stream=False)
    assert result["data"]["data"]["content"] == "Nothing remembered."
