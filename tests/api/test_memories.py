"""``/api/v1/memories``: create, update, delete, list and show memories, with RAGFlow's checks
and texts (spec 2.12), and another tenant's memories answering as missing ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_teams import agree, invite
from conftest import Account
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI
from ragserve.settings import Settings

EMBEDDING = "openai/fake-embedding"
MISSING = "0" * 32


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def call(account: Account, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = account.client.request(
        method, f"/api/v1{path}", headers=account.api_headers, **kwargs
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def new_memory(account: Account, name: str = "notes", types: list[str] | None = None) -> str:
    body = call(
        account,
        "POST",
        "/memories",
        json={
            "name": name,
            "memory_type": types or ["raw", "semantic"],
            "embd_id": EMBEDDING,
            "llm_id": FAKE_CHAT_MODEL,
        },
    )
    assert body["code"] == 0, body
    memory_id: str = body["data"]["id"]
    return memory_id


def add_turn(account: Account, memory_ids: list[str], said: str, **extra: Any) -> dict[str, Any]:
    payload = {
        "memory_id": memory_ids,
        "agent_id": "agent-1",
        "session_id": "session-1",
        "user_input": said,
        "agent_response": "Noted.",
        **extra,
    }
    return call(account, "POST", "/messages", json=payload)


# --- create -----------------------------------------------------------------------------------


def test_create_answers_the_memory_with_ragflows_defaults(alice: Account) -> None:
    body = call(
        alice,
        "POST",
        "/memories",
        json={
            "name": "  travel  ",
            "memory_type": ["semantic", "raw", "semantic"],
            "embd_id": EMBEDDING,
            "llm_id": FAKE_CHAT_MODEL,
        },
    )
    assert body["code"] == 0 and body["message"] is True
    memory = body["data"]
    assert memory["name"] == "travel"
    assert memory["memory_type"] == ["raw", "semantic"]
    assert memory["tenant_id"] == alice.id
    assert memory["owner_name"] == "alice"
    assert memory["storage_type"] == "table"
    assert memory["permissions"] == "me"
    assert memory["memory_size"] == 5 * 1024 * 1024
    assert memory["forgetting_policy"] == "FIFO"
    assert memory["temperature"] == 0.5
    assert "semantic" in memory["system_prompt"]
    assert memory["user_prompt"] == ""


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"memory_type": ["raw"], "embd_id": "e", "llm_id": "l"}, "required argument are missing: name; "),
        ({"name": "n", "embd_id": "e"}, "required argument are missing: memory_type,llm_id; "),
        ({"name": "", "memory_type": ["raw"], "embd_id": "e", "llm_id": "l"}, "Memory name cannot be empty or whitespace."),
        ({"name": "  ", "memory_type": ["raw"], "embd_id": "e", "llm_id": "l"}, "Memory name cannot be empty or whitespace."),
        ({"name": "x" * 129, "memory_type": ["raw"], "embd_id": "e", "llm_id": "l"}, f"Memory name '{'x' * 129}' exceeds limit of 128."),
        ({"name": "n", "memory_type": "raw", "embd_id": "e", "llm_id": "l"}, "Memory type must be a list."),
        ({"name": "n", "memory_type": ["raw", "dreams"], "embd_id": "e", "llm_id": "l"}, "Memory type '{'dreams'}' is not supported."),
    ],
)  # fmt: skip
def test_create_refuses_with_ragflows_texts(
    alice: Account, payload: dict[str, Any], message: str
) -> None:
    assert call(alice, "POST", "/memories", json=payload) == {"code": 101, "message": message}


def test_a_name_of_128_characters_is_fine(alice: Account) -> None:
    new_memory(alice, name="y" * 128)


# --- update -----------------------------------------------------------------------------------


def test_update_changes_what_is_given(alice: Account) -> None:
    memory_id = new_memory(alice)
    body = call(
        alice,
        "PUT",
        f"/memories/{memory_id}",
        json={
            "name": "renamed",
            "permissions": "team",
            "memory_size": 1024,
            "temperature": 0.1,
            "description": "what I said",
            "user_prompt": "Be brief.",
            "memory_type": ["raw", "episodic"],
        },
    )
    assert body["code"] == 0, body
    memory = body["data"]
    assert (memory["name"], memory["permissions"], memory["memory_size"]) == (
        "renamed",
        "team",
        1024,
    )
    assert (memory["temperature"], memory["description"]) == (0.1, "what I said")
    assert memory["memory_type"] == ["raw", "episodic"]
    # the default prompt follows the types
    assert "episodic" in memory["system_prompt"] and "semantic" not in memory["system_prompt"]
    config = call(alice, "GET", f"/memories/{memory_id}/config")["data"]
    assert config == memory
    # empty model ids, types and permissions are ignored; null clears the description
    ignored = {"llm_id": "", "memory_type": [], "permissions": "", "description": None}
    again = call(alice, "PUT", f"/memories/{memory_id}", json=ignored)["data"]
    assert again == {**memory, "description": None, "update_time": again["update_time"],
                     "update_date": again["update_date"]}  # fmt: skip
    assert call(alice, "PUT", f"/memories/{memory_id}", json={})["data"]["name"] == "renamed"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": " "}, "Memory name cannot be empty or whitespace."),
        ({"name": "z" * 129}, f"Memory name '{'z' * 129}' exceeds limit of 128."),
        ({"permissions": "everyone"}, "Unknown permission 'everyone'."),
        ({"memory_type": ["nightmares"]}, "Memory type '{'nightmares'}' is not supported."),
        ({"memory_size": 10 * 1024 * 1024 + 1}, "Memory size should be in range (0, 10485760] Bytes."),
        ({"memory_size": -5}, "Memory size should be in range (0, 10485760] Bytes."),
        ({"forgetting_policy": "LRU"}, "Forgetting policy 'LRU' is not supported."),
        ({"temperature": 1.5}, "Temperature should be in range [0, 1]."),
    ],
)  # fmt: skip
def test_update_refuses_with_ragflows_texts(
    alice: Account, payload: dict[str, Any], message: str
) -> None:
    memory_id = new_memory(alice)
    assert call(alice, "PUT", f"/memories/{memory_id}", json=payload) == {
        "code": 101,
        "message": message,
    }


def test_a_memory_with_messages_keeps_its_embedding_model_and_types(alice: Account) -> None:
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "I like tea")
    for change in ({"embd_id": "openai/other"}, {"memory_type": ["raw"]}):
        body = call(alice, "PUT", f"/memories/{memory_id}", json=change)
        assert body["code"] == 101
        assert body["message"] == f"Can't update {list(change)!r} when memory isn't empty."
    assert call(alice, "PUT", f"/memories/{memory_id}", json={"llm_id": "openai/x"})["code"] == 0


def test_update_delete_and_config_of_missing_or_other_tenants_memories(
    alice: Account, bob: Account
) -> None:
    bobs = new_memory(bob)
    for memory_id in (MISSING, bobs):
        message = f"Memory '{memory_id}' not found."
        expected = {"code": 404, "message": message}
        assert call(alice, "PUT", f"/memories/{memory_id}", json={"name": "mine"}) == expected
        assert call(alice, "GET", f"/memories/{memory_id}/config") == expected
        assert call(alice, "GET", f"/memories/{memory_id}") == expected
        assert call(alice, "DELETE", f"/memories/{memory_id}")["code"] == 404
    assert call(bob, "GET", f"/memories/{bobs}/config")["data"]["name"] == "notes"


# --- delete and list --------------------------------------------------------------------------


def test_delete_removes_the_memory_and_its_messages(alice: Account) -> None:
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "I like tea")
    assert call(alice, "DELETE", f"/memories/{memory_id}") == {
        "code": 0,
        "message": True,
        "data": None,
    }
    assert call(alice, "GET", f"/memories/{memory_id}/config")["code"] == 404
    assert call(alice, "GET", "/messages", params={"memory_id": memory_id})["data"] == []


def test_list_filters_and_pages_the_callers_memories(alice: Account, bob: Account) -> None:
    first = new_memory(alice, "travel plans", ["raw"])
    second = new_memory(alice, "recipes", ["raw", "procedural"])
    new_memory(bob, "bobs travel", ["raw"])
    listed = call(alice, "GET", "/memories")["data"]
    assert listed["total_count"] == 2
    assert {m["id"] for m in listed["memory_list"]} == {first, second}
    by_keyword = call(alice, "GET", "/memories", params={"keywords": "TRAVEL"})["data"]
    assert [m["id"] for m in by_keyword["memory_list"]] == [first]
    by_type = call(alice, "GET", "/memories", params={"memory_type": "procedural,semantic"})
    assert [m["id"] for m in by_type["data"]["memory_list"]] == [second]
    paged = call(alice, "GET", "/memories", params={"page": 2, "page_size": 1})["data"]
    assert paged["total_count"] == 2 and len(paged["memory_list"]) == 1
    others = call(alice, "GET", "/memories", params={"tenant_id": bob.id})["data"]
    assert others == {"memory_list": [], "total_count": 0}
    stored = call(alice, "GET", "/memories", params={"storage_type": "graph"})["data"]
    assert stored["total_count"] == 0


def test_team_memories_are_seen_by_members_but_changed_by_their_tenant(
    alice: Account, bob: Account
) -> None:
    """A member of alice's team sees (lists, reads, searches, adds to) her memories whose
    ``permissions`` is ``team``, never her ``me`` ones, and changes or deletes none."""
    shared, private = new_memory(alice, "shared", ["raw"]), new_memory(alice, "private", ["raw"])
    call(alice, "PUT", f"/memories/{shared}", json={"permissions": "team"})
    assert call(bob, "GET", f"/memories/{shared}/config")["code"] == 404  # not a member yet
    invite(alice, bob.email)
    agree(bob, alice.id)
    listed = call(bob, "GET", "/memories")["data"]
    assert [m["id"] for m in listed["memory_list"]] == [shared]
    assert call(bob, "GET", f"/memories/{shared}/config")["data"]["owner_name"] == "alice"
    assert call(bob, "GET", f"/memories/{private}/config")["code"] == 404
    assert add_turn(bob, [shared], "team tea time")["code"] == 0
    assert call(bob, "GET", "/messages", params={"memory_id": shared})["data"][0]["agent_id"]
    expected = {"code": 404, "message": f"Memory '{shared}' not found."}
    assert call(bob, "PUT", f"/memories/{shared}", json={"name": "bob's"}) == expected
    assert call(bob, "DELETE", f"/memories/{shared}")["code"] == 404
