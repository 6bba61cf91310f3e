"""``/api/v1/messages`` and a memory's message list: a turn is stored raw, the memory's chat
model (the fake) extracts its items by the memory's types, both are embedded and searchable;
forgetting, disabling, recent turns, content, FIFO forgetting past the size, and isolation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from api.test_memories import MISSING, add_turn, call, new_memory
from conftest import Account
from helpers.fake_openai import MEMORY_ITEM_TIME, FakeOpenAI
from ragserve.bootstrap import reap
from ragserve.db.memory_models import MemoryMessage
from ragserve.rag import prompt
from ragserve.runtime import Runtime
from ragserve.settings import Settings
from ragserve.timeutil import now_ms


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def extraction_calls(fake: FakeOpenAI) -> list[dict[str, Any]]:
    start = prompt.MEMORY_EXTRACT_PROMPT.split("{")[0]
    return [
        r.body
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith(start)
    ]


def messages_of(account: Account, memory_id: str, **params: Any) -> list[dict[str, Any]]:
    body = call(account, "GET", f"/memories/{memory_id}", params=params)
    assert body["code"] == 0, body
    assert body["data"]["storage_type"] == "table"
    listed: list[dict[str, Any]] = body["data"]["messages"]["message_list"]
    return listed


def search(account: Account, memory_ids: list[str], query: str, **params: Any) -> Any:
    body = call(
        account,
        "GET",
        "/messages/search",
        params={"memory_id": memory_ids, "query": query, **params},
    )
    assert body["code"] == 0, body
    return body["data"]


def test_a_turn_is_stored_raw_and_its_items_extracted_by_type(
    alice: Account, fake: FakeOpenAI
) -> None:
    memory_id = new_memory(alice, types=["raw", "semantic", "procedural"])
    body = add_turn(alice, [memory_id], "I always drink green tea")
    assert body == {"code": 0, "message": "All add to task.", "data": None}
    [turn] = messages_of(alice, memory_id)
    assert turn["message_type"] == "raw" and turn["source_id"] == 0
    assert turn["content"] == "User Input: I always drink green tea\nAgent Response: Noted."
    assert (turn["agent_id"], turn["session_id"]) == ("agent-1", "session-1")
    assert turn["task"] == {"status": "done", "progress": 1.0, "progress_msg": ""}
    assert turn["agent_name"] == "Unknown"
    assert [(i["message_type"], i["content"]) for i in turn["extract"]] == [
        ("semantic", "semantic: I always drink green tea"),
        ("procedural", "procedural: I always drink green tea"),
    ]
    assert {i["source_id"] for i in turn["extract"]} == {turn["message_id"]}
    assert turn["extract"][0]["valid_at"] == MEMORY_ITEM_TIME.replace("T", " ")
    [request] = extraction_calls(fake)
    assert request["temperature"] == 0.5
    assert "semantic, procedural" in request["messages"][0]["content"]


def test_a_raw_memory_asks_the_model_nothing(alice: Account, fake: FakeOpenAI) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "hello there")
    [turn] = messages_of(alice, memory_id)
    assert turn["extract"] == [] and turn["task"]["status"] == "done"
    assert extraction_calls(fake) == []
    [found] = search(alice, [memory_id], "hello")
    assert found["message_id"] == turn["message_id"]


def test_a_turn_goes_to_every_memory_named(alice: Account) -> None:
    first, second = new_memory(alice, "a"), new_memory(alice, "b", ["raw", "episodic"])
    add_turn(alice, [first, second], "we met at the station")
    assert [i["message_type"] for i in messages_of(alice, first)[0]["extract"]] == ["semantic"]
    assert [i["message_type"] for i in messages_of(alice, second)[0]["extract"]] == ["episodic"]


def test_a_failed_extraction_is_shown_on_the_turn(alice: Account) -> None:
    memory_id = new_memory(alice)
    call(alice, "PUT", f"/memories/{memory_id}", json={"system_prompt": "Just chat."})
    add_turn(alice, [memory_id], "I like tea")
    [turn] = messages_of(alice, memory_id)
    assert turn["task"]["status"] == "failed"
    assert turn["task"]["progress_msg"] == (
        "The memory's chat model did not answer with a JSON object."
    )
    assert search(alice, [memory_id], "tea") == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"agent_id": "a", "session_id": "s", "user_input": "u", "agent_response": "r"}, "required argument are missing: memory_id; "),
        ({"memory_id": ["m"], "user_input": "u", "agent_response": "r"}, "required argument are missing: agent_id,session_id; "),
    ],
)  # fmt: skip
def test_add_refuses_missing_arguments(
    alice: Account, payload: dict[str, Any], message: str
) -> None:
    assert call(alice, "POST", "/messages", json=payload) == {"code": 101, "message": message}


def test_add_to_missing_or_other_tenants_memories_fails_for_those(
    alice: Account, bob: Account
) -> None:
    mine, bobs = new_memory(alice), new_memory(bob)
    body = add_turn(alice, [mine, bobs, MISSING], "I like tea")
    assert body == {
        "code": 500,
        "message": f"Some messages failed to add. Detail:Memory '{bobs}' not found.; "
        f"Memory '{MISSING}' not found.",
    }
    assert len(messages_of(alice, mine)) == 1
    assert messages_of(bob, bobs) == []


def test_list_filters_by_agent_and_keywords_and_pages(alice: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "first about tea")
    add_turn(alice, [memory_id], "second about coffee", agent_id="agent-2")
    add_turn(alice, [memory_id], "third about tea", agent_id="agent-2")
    contents = [m["content"].splitlines()[0] for m in messages_of(alice, memory_id)]
    assert contents == [
        "User Input: third about tea",
        "User Input: second about coffee",
        "User Input: first about tea",
    ]
    assert len(messages_of(alice, memory_id, agent_id="agent-2")) == 2
    assert len(messages_of(alice, memory_id, agent_id="agent-1,agent-2")) == 3
    assert len(messages_of(alice, memory_id, keywords="TEA")) == 2
    body = call(alice, "GET", f"/memories/{memory_id}", params={"page": 2, "page_size": 2})
    assert body["data"]["messages"]["total_count"] == 3
    assert len(body["data"]["messages"]["message_list"]) == 1


# --- search -----------------------------------------------------------------------------------


def test_search_finds_turns_and_items_best_first(alice: Account) -> None:
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "my cat is called Mittens")
    add_turn(alice, [memory_id], "the train leaves at nine")
    found = search(alice, [memory_id], "what is the cat called", keywords_similarity_weight=1.0)
    assert found, found
    assert all("Mittens" in f["content"] for f in found)
    assert {f["message_type"] for f in found} == {"raw", "semantic"}
    similarities = [f["similarity"] for f in found]
    assert similarities == sorted(similarities, reverse=True)
    assert found[0]["similarity"] == found[0]["term_similarity"]
    assert len(search(alice, [memory_id], "cat called", top_n=1)) == 1
    assert search(alice, [memory_id], "cat called", similarity_threshold=1.01) == []


def test_search_filters_by_agent_and_session(alice: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "tea please", agent_id="a1", session_id="s1")
    add_turn(alice, [memory_id], "tea again", agent_id="a2", session_id="s2")
    everything = {"keywords_similarity_weight": 1.0, "similarity_threshold": 0.1}
    assert len(search(alice, [memory_id], "tea", **everything)) == 2
    [one] = search(alice, [memory_id], "tea", agent_id="a2", **everything)
    assert one["agent_id"] == "a2"
    [other] = search(alice, [memory_id], "tea", session_id="s1", **everything)
    assert other["session_id"] == "s1"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "tea"}, "memory_id can't be empty."),
        ({"memory_id": "m"}, "query can't be empty."),
        ({}, "memory_id, query can't be empty."),
    ],
)
def test_search_needs_memories_and_a_query(
    alice: Account, params: dict[str, Any], message: str
) -> None:
    body = call(alice, "GET", "/messages/search", params=params)
    assert body == {"code": 101, "message": message}


def test_search_does_not_reach_other_tenants_memories(alice: Account, bob: Account) -> None:
    bobs = new_memory(bob, types=["raw"])
    add_turn(bob, [bobs], "bob's secret tea")
    assert search(alice, [bobs, MISSING], "tea") == []
    assert search(bob, [bobs], "tea", keywords_similarity_weight=1.0) != []


# --- recent, forget, status, content ----------------------------------------------------------


def test_recent_turns_newest_first(alice: Account, bob: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    for said in ("one", "two", "three"):
        add_turn(alice, [memory_id], said, session_id=f"s-{said}")
    body = call(alice, "GET", "/messages", params={"memory_id": memory_id, "limit": 2})
    assert [m["content"].split("\n")[0] for m in body["data"]] == [
        "User Input: three",
        "User Input: two",
    ]
    [only] = call(
        alice, "GET", "/messages", params={"memory_id": memory_id, "session_id": "s-one"}
    )["data"]
    assert only["session_id"] == "s-one"
    assert (
        call(alice, "GET", "/messages", params={"memory_id": memory_id, "agent_id": "x"})["data"]
        == []
    )
    assert call(bob, "GET", "/messages", params={"memory_id": memory_id})["data"] == []
    assert call(alice, "GET", "/messages") == {"code": 101, "message": "memory_ids is required."}


def test_forget_hides_a_turn_and_its_items(alice: Account) -> None:
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "my cat is called Mittens")
    [turn] = messages_of(alice, memory_id)
    path = f"/messages/{memory_id}:{turn['message_id']}"
    assert call(alice, "DELETE", path) == {"code": 0, "message": True, "data": None}
    [forgotten] = messages_of(alice, memory_id)
    assert forgotten["forget_at"] is not None
    assert all(item["forget_at"] is not None for item in forgotten["extract"])
    assert search(alice, [memory_id], "cat Mittens", similarity_threshold=0.0) == []
    assert call(alice, "GET", "/messages", params={"memory_id": memory_id})["data"] == []


def test_disable_and_enable_a_message(alice: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "my cat is called Mittens")
    [turn] = messages_of(alice, memory_id)
    path = f"/messages/{memory_id}:{turn['message_id']}"
    assert call(alice, "PUT", path, json={"status": False}) == {
        "code": 0,
        "message": True,
        "data": None,
    }
    assert messages_of(alice, memory_id)[0]["status"] is False
    assert search(alice, [memory_id], "Mittens", similarity_threshold=0.0) == []
    call(alice, "PUT", path, json={"status": True})
    assert search(alice, [memory_id], "Mittens", similarity_threshold=0.0) != []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "required argument are missing: status; "),
        ({"status": "no"}, "Status must be a boolean."),
    ],
)
def test_status_must_be_a_boolean(alice: Account, payload: dict[str, Any], message: str) -> None:
    memory_id = new_memory(alice)
    body = call(alice, "PUT", f"/messages/{memory_id}:1", json=payload)
    assert body == {"code": 101, "message": message}


def test_content_of_one_message(alice: Account) -> None:
    memory_id = new_memory(alice, types=["raw"])
    add_turn(alice, [memory_id], "hello")
    [turn] = messages_of(alice, memory_id)
    body = call(alice, "GET", f"/messages/{memory_id}:{turn['message_id']}/content")
    assert body["code"] == 0
    assert body["data"]["content"] == turn["content"]
    assert body["data"]["message_id"] == turn["message_id"]


def test_missing_messages_and_other_tenants_memories(alice: Account, bob: Account) -> None:
    mine, bobs = new_memory(alice, types=["raw"]), new_memory(bob, types=["raw"])
    add_turn(bob, [bobs], "hello")
    [bobs_turn] = messages_of(bob, bobs)
    for message_id in ("999999", "abc"):
        assert call(alice, "GET", f"/messages/{mine}:{message_id}/content") == {
            "code": 404,
            "message": f"Message '{message_id}' in memory '{mine}' not found.",
        }
        assert call(alice, "DELETE", f"/messages/{mine}:{message_id}") == {
            "code": 500,
            "message": f"Failed to forget message '{message_id}' in memory '{mine}'.",
        }
        assert call(alice, "PUT", f"/messages/{mine}:{message_id}", json={"status": True}) == {
            "code": 500,
            "message": f"Failed to set status for message '{message_id}' in memory '{mine}'.",
        }
    # bob's message, through alice's memory: not there either
    number = bobs_turn["message_id"]
    assert call(alice, "GET", f"/messages/{mine}:{number}/content")["code"] == 404
    for memory_id in (bobs, MISSING):
        expected = {"code": 404, "message": f"Memory '{memory_id}' not found."}
        assert call(alice, "GET", f"/messages/{memory_id}:{number}/content") == expected
        assert call(alice, "DELETE", f"/messages/{memory_id}:{number}") == expected
        assert call(alice, "PUT", f"/messages/{memory_id}:{number}", json={"status": False}) == (
            expected
        )
    assert messages_of(bob, bobs)[0]["forget_at"] is None


def test_a_full_memory_forgets_its_oldest_turns(alice: Account) -> None:
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "turn number one")
    [first] = messages_of(alice, memory_id)
    one_turn = len(first["content"].encode()) + 16 * 4
    items = sum(len(i["content"].encode()) + 16 * 4 for i in first["extract"])
    # room for two turns with their items, not three
    call(alice, "PUT", f"/memories/{memory_id}", json={"memory_size": 2 * (one_turn + items) + 10})
    add_turn(alice, [memory_id], "turn number two")
    add_turn(alice, [memory_id], "turn number six")
    kept = messages_of(alice, memory_id)
    assert [m["content"].splitlines()[0] for m in kept] == [
        "User Input: turn number six",
        "User Input: turn number two",
    ]
    assert call(alice, "GET", f"/messages/{memory_id}:{first['message_id']}/content")["code"] == 404


def test_an_abandoned_extraction_is_taken_again_then_failed(
    alice: Account, runtime: Runtime
) -> None:
    """A turn whose worker died (still ``running``, lease run out) is extracted again by the
    reaper; one abandoned ``task_attempts`` times fails. A live lease is left alone."""
    memory_id = new_memory(alice)
    add_turn(alice, [memory_id], "I like tea")
    [turn] = messages_of(alice, memory_id)

    def abandon(attempts: int, lease: int = 1) -> None:
        with runtime.transaction() as session:
            session.execute(
                delete(MemoryMessage).where(MemoryMessage.source_id == turn["message_id"])
            )
            session.execute(
                update(MemoryMessage)
                .where(MemoryMessage.id == turn["message_id"])
                .values(extraction="running", extraction_lease=lease, extraction_attempts=attempts)
            )

    abandon(attempts=1, lease=now_ms() + 600_000)
    reap(runtime)
    assert messages_of(alice, memory_id)[0]["task"]["status"] == "running"
    abandon(attempts=1)
    reap(runtime)
    [again] = messages_of(alice, memory_id)
    assert again["task"]["status"] == "done"
    assert [i["content"] for i in again["extract"]] == ["semantic: I like tea"]
    abandon(attempts=runtime.settings.task_attempts)
    reap(runtime)
    [failed] = messages_of(alice, memory_id)
    assert failed["task"] == {
        "status": "failed",
        "progress": -1.0,
        "progress_msg": f"The extraction was abandoned {runtime.settings.task_attempts} times "
        "(its worker stopped).",
    }
