"""``/api/v1/chats/{chat_id}/sessions``: spec 2.6 fields, messages and isolation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from conftest import Account
from ragserve.db.models import ChatSession
from ragserve.runtime import Runtime

UNKNOWN_ID = "9f3c1a2e0c1811ef8c0a0242ac120002"
OPENER = "Hi! I'm your assistant. What can I do for you?"


def url(chat_id: str) -> str:
    return f"/api/v1/chats/{chat_id}/sessions"


def new_chat(account: Account, name: str = "assistant", **body: Any) -> str:
    response = account.client.post(
        "/api/v1/chats", json={"name": name, **body}, headers=account.api_headers
    )
    chat_id: str = response.json()["data"]["id"]
    return chat_id


def delete_chat(account: Account, chat_id: str) -> None:
    response = account.client.request(
        "DELETE", "/api/v1/chats", json={"ids": [chat_id]}, headers=account.api_headers
    )
    assert response.json() == {"code": 0}


def create(account: Account, chat_id: str, body: Any = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = account.client.post(url(chat_id), headers=account.api_headers, **kwargs)
    result: dict[str, Any] = response.json()
    return result


def created(account: Account, chat_id: str, **body: Any) -> dict[str, Any]:
    result = create(account, chat_id, body)
    assert result["code"] == 0, result
    data: dict[str, Any] = result["data"]
    return data


def update(account: Account, chat_id: str, session_id: str, body: Any) -> dict[str, Any]:
    response = account.client.put(
        f"{url(chat_id)}/{session_id}", json=body, headers=account.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def delete(account: Account, chat_id: str, body: Any = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = account.client.request("DELETE", url(chat_id), headers=account.api_headers, **kwargs)
    result: dict[str, Any] = response.json()
    return result


def listing(account: Account, chat_id: str, **query: Any) -> dict[str, Any]:
    response = account.client.get(url(chat_id), params=query, headers=account.api_headers)
    result: dict[str, Any] = response.json()
    return result


def listed(account: Account, chat_id: str, **query: Any) -> list[dict[str, Any]]:
    result = listing(account, chat_id, **query)
    assert result["code"] == 0, result
    sessions: list[dict[str, Any]] = result["data"]
    return sessions


def ids(sessions: list[dict[str, Any]]) -> list[str]:
    return [session["id"] for session in sessions]


# --- create ------------------------------------------------------------------------------------


def test_create_with_defaults(alice: Account) -> None:
    chat_id = new_chat(alice)
    result = create(alice, chat_id)
    assert result["code"] == 0 and "message" not in result
    data = result["data"]
    assert len(data["id"]) == 32 and int(data["id"], 16)
    assert (data["chat_id"], data["name"], data["user_id"]) == (chat_id, "New session", "")
    (opener,) = data["messages"]
    assert set(opener) == {"role", "content", "id", "created_at", "reference"}
    assert (opener["role"], opener["content"], opener["reference"]) == ("assistant", OPENER, [])
    assert len(opener["id"]) == 32 and isinstance(opener["created_at"], float)
    assert data["create_date"].endswith(" GMT") and isinstance(data["create_time"], int)
    assert data["update_time"] >= data["create_time"]


def test_create_with_name_user_and_the_chats_opener(alice: Account) -> None:
    chat_id = new_chat(alice, prompt={"opener": "Welcome back!"})
    data = created(alice, chat_id, name="Support", user_id="customer-7", ignored=True)
    assert (data["name"], data["user_id"]) == ("Support", "customer-7")
    assert [m["content"] for m in data["messages"]] == ["Welcome back!"]
    assert listed(alice, chat_id) == [data]


@pytest.mark.parametrize("body", [{"name": ""}, {"name": None}])
def test_create_refuses_an_empty_name(alice: Account, body: dict[str, Any]) -> None:
    chat_id = new_chat(alice)
    assert create(alice, chat_id, body) == {"code": 102, "message": "`name` can not be empty."}
    assert listed(alice, chat_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": 5}, "name"), ({"name": "x" * 256}, "name"), ({"user_id": 5}, "user_id")],
)
def test_create_refuses_wrong_types(alice: Account, body: dict[str, Any], field: str) -> None:
    result = create(alice, new_chat(alice), body)
    assert result["code"] == 101 and result["message"].startswith(f"Field: <{field}>"), result


def test_create_in_unknown_foreign_or_deleted_chats(alice: Account, bob: Account) -> None:
    bobs = new_chat(bob)
    gone = new_chat(alice, "gone")
    delete_chat(alice, gone)
    for chat_id in (UNKNOWN_ID, bobs, gone):
        assert create(alice, chat_id) == {"code": 102, "message": "You do not own the assistant."}
    assert listed(bob, bobs) == []


# --- update ------------------------------------------------------------------------------------


def test_update_name_and_user(alice: Account) -> None:
    chat_id = new_chat(alice)
    session = created(alice, chat_id)
    body = {"name": "Renamed", "user_id": "u1", "id": "ignored", "chat_id": "ignored"}
    assert update(alice, chat_id, session["id"], body) == {"code": 0}
    (after,) = listed(alice, chat_id)
    assert (after["id"], after["name"], after["user_id"]) == (session["id"], "Renamed", "u1")
    assert after["messages"] == session["messages"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": []}, "`message` can not be change"),
        ({"messages": [], "reference": []}, "`message` can not be change"),
        ({"reference": []}, "`reference` can not be change"),
        ({"name": ""}, "`name` can not be empty."),
        ({"name": None}, "`name` can not be empty."),
    ],
)
def test_update_checks(alice: Account, body: dict[str, Any], message: str) -> None:
    chat_id = new_chat(alice)
    session = created(alice, chat_id)
    assert update(alice, chat_id, session["id"], body) == {"code": 102, "message": message}
    assert listed(alice, chat_id) == [session]


def test_update_of_sessions_out_of_reach(alice: Account, bob: Account) -> None:
    chat_id, other_chat = new_chat(alice, "one"), new_chat(alice, "two")
    session = created(alice, chat_id)
    bobs_chat = new_chat(bob)
    bobs = created(bob, bobs_chat)
    missing = {"code": 102, "message": "Session does not exist"}
    assert update(alice, chat_id, UNKNOWN_ID, {"name": "x"}) == missing
    assert update(alice, other_chat, session["id"], {"name": "x"}) == missing
    assert update(alice, bobs_chat, bobs["id"], {"name": "x"}) == missing
    assert listed(bob, bobs_chat)[0]["name"] == "New session"
    delete_chat(alice, chat_id)
    assert update(alice, chat_id, session["id"], {"name": "x"}) == {
        "code": 102,
        "message": "You do not own the session",
    }


# --- list --------------------------------------------------------------------------------------


def test_list_order_pages_and_filters(alice: Account, runtime: Runtime) -> None:
    chat_id = new_chat(alice)
    made = [created(alice, chat_id, name=f"s{n}", user_id=f"u{n % 2}")["id"] for n in range(4)]
    with runtime.transaction() as session:  # distinct, known times
        for row in session.scalars(select(ChatSession).where(ChatSession.id.in_(made))):
            position = made.index(row.id)
            row.create_time, row.update_time = 1_000 + position, 2_000 - position
    newest_first = list(reversed(made))
    assert ids(listed(alice, chat_id)) == newest_first
    assert ids(listed(alice, chat_id, desc="False")) == made
    assert ids(listed(alice, chat_id, orderby="update_time")) == made
    assert ids(listed(alice, chat_id, page=2, page_size=3)) == newest_first[3:]
    assert ids(listed(alice, chat_id, id=made[1])) == [made[1]]
    assert ids(listed(alice, chat_id, name="s2")) == [made[2]]
    assert ids(listed(alice, chat_id, user_id="u1")) == [made[3], made[1]]
    assert ids(listed(alice, chat_id, id="", name="", user_id="")) == newest_first
    assert listed(alice, chat_id, name="S2") == []
    assert listed(alice, chat_id, id=UNKNOWN_ID) == []


def test_list_refuses_bad_parameters(alice: Account) -> None:
    result = listing(alice, new_chat(alice), page_size="many")
    assert result["code"] == 101 and result["message"].startswith("Field: <page_size>")


def test_list_of_unknown_foreign_or_deleted_chats(alice: Account, bob: Account) -> None:
    bobs = new_chat(bob)
    created(bob, bobs)
    gone = new_chat(alice, "gone")
    delete_chat(alice, gone)
    for chat_id in (UNKNOWN_ID, bobs, gone):
        assert listing(alice, chat_id) == {
            "code": 102,
            "message": f"You don't own the assistant {chat_id}.",
        }


def chunk(n: int) -> dict[str, Any]:
    return {
        "id": f"chunk{n}", "content": f"text {n}", "document_id": "doc", "document_name": "a.md",
        "dataset_id": "ds", "image_id": "", "positions": [], "similarity": 0.5, "url": None,
    }  # fmt: skip


def test_list_shows_each_answer_with_its_own_reference(alice: Account, runtime: Runtime) -> None:
    """The shapes the completion endpoint stores: the opener has no reference slot."""
    chat_id = new_chat(alice)
    session_id = created(alice, chat_id)["id"]
    turns = [
        {"role": "user", "content": "q1", "id": "m1", "created_at": 1.0},
        {"role": "assistant", "content": "a1", "id": "m1", "created_at": 2.0, "prompt": "p"},
        {"role": "user", "content": "q2", "id": "m2", "created_at": 3.0},
        {"role": "assistant", "content": "a2", "id": "m2", "created_at": 4.0},
        {"role": "user", "content": "q3", "id": "m3", "created_at": 5.0},
        {"role": "assistant", "content": "a3", "id": "m3", "created_at": 6.0},
    ]
    references = [
        {"total": 2, "chunks": [chunk(1), chunk(2)], "doc_aggs": []},
        {},
        {"total": 1, "chunks": [chunk(3)], "doc_aggs": []},
    ]
    with runtime.transaction() as session:
        row = session.get(ChatSession, session_id)
        assert row is not None
        row.messages = [*row.messages, *turns]
        row.answer_references = references
    (listed_session,) = listed(alice, chat_id)
    messages = listed_session["messages"]
    assert [m["content"] for m in messages] == [OPENER, "q1", "a1", "q2", "a2", "q3", "a3"]
    assert [[c["id"] for c in m["reference"]] if "reference" in m else None for m in messages] == [
        [], None, ["chunk1", "chunk2"], None, [], None, ["chunk3"],
    ]  # fmt: skip
    shown_keys = ("id", "content", "document_id", "document_name", "dataset_id", "image_id")
    assert messages[2] == {
        "role": "assistant",
        "content": "a1",
        "id": "m1",
        "created_at": 2.0,
        "reference": [
            {**{key: chunk(n)[key] for key in shown_keys}, "positions": []} for n in (1, 2)
        ],
    }
    assert messages[1] == {"role": "user", "content": "q1", "id": "m1", "created_at": 1.0}


# --- delete ------------------------------------------------------------------------------------


def test_delete_named_sessions(alice: Account) -> None:
    chat_id = new_chat(alice)
    first, second = created(alice, chat_id)["id"], created(alice, chat_id)["id"]
    assert delete(alice, chat_id, {"ids": [first]}) == {"code": 0}
    assert ids(listed(alice, chat_id)) == [second]


@pytest.mark.parametrize("body", [None, {}, {"ids": None}, {"ids": []}])
def test_delete_without_ids_deletes_all_of_the_chat(alice: Account, body: Any) -> None:
    chat_id, other = new_chat(alice, "one"), new_chat(alice, "two")
    created(alice, chat_id)
    created(alice, chat_id)
    kept = created(alice, other)["id"]
    assert delete(alice, chat_id, body) == {"code": 0}
    assert listed(alice, chat_id) == []
    assert ids(listed(alice, other)) == [kept]


def test_delete_reports_unknown_and_repeated_ids(alice: Account) -> None:
    chat_id, other = new_chat(alice, "one"), new_chat(alice, "two")
    first, second = created(alice, chat_id)["id"], created(alice, chat_id)["id"]
    elsewhere = created(alice, other)["id"]
    assert delete(alice, chat_id, {"ids": [UNKNOWN_ID, elsewhere]}) == {
        "code": 102,
        "message": f"The chat doesn't own the session {UNKNOWN_ID}; "
        f"The chat doesn't own the session {elsewhere}",
    }
    assert delete(alice, chat_id, {"ids": [first, first]}) == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"Duplicate session ids: {first}"]},
    }
    assert delete(alice, chat_id, {"ids": [second, first]}) == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"The chat doesn't own the session {first}"]},
    }
    assert listed(alice, chat_id) == []
    assert ids(listed(alice, other)) == [elsewhere]


def test_delete_in_unknown_foreign_or_deleted_chats(alice: Account, bob: Account) -> None:
    bobs = new_chat(bob)
    bobs_session = created(bob, bobs)["id"]
    gone = new_chat(alice, "gone")
    delete_chat(alice, gone)
    for chat_id in (UNKNOWN_ID, bobs, gone):
        assert delete(alice, chat_id, {"ids": [bobs_session]}) == {
            "code": 102,
            "message": "You don't own the chat",
        }
    assert ids(listed(bob, bobs)) == [bobs_session]


def test_delete_refuses_wrong_types(alice: Account) -> None:
    result = delete(alice, new_chat(alice), {"ids": [1]})
    assert result["code"] == 101 and result["message"].startswith("Field: <ids.0>")
