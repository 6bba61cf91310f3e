"""Chat sessions: empty ids in the path, ``orderby=name`` and RAGFlow's messages."""

from __future__ import annotations

import pytest

from api.test_chat_sessions import create, created, ids, listed, listing, new_chat, update
from conftest import Account

UNKNOWN_ID = "9f3c1a2e0c1811ef8c0a0242ac120002"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/chats//sessions"),
        ("POST", "/api/v1/chats//sessions"),
        ("DELETE", "/api/v1/chats//sessions"),
        ("PUT", "/api/v1/chats//sessions/{session}"),
        ("PUT", "/api/v1/chats/{chat}/sessions/"),
        ("PUT", "/api/v1/chats//sessions/"),
    ],
)
def test_an_empty_id_in_the_path_is_a_wrong_method(alice: Account, method: str, path: str) -> None:
    chat_id = new_chat(alice)
    session_id = created(alice, chat_id)["id"]
    url = path.format(chat=chat_id, session=session_id)
    response = alice.client.request(method, url, json={"name": "x"}, headers=alice.api_headers)
    assert response.status_code == 405
    body = response.json()
    assert body["code"] == 100 and body["message"].startswith(f"Method Not Allowed: {method} ")
    assert [s["name"] for s in listed(alice, chat_id)] == ["New session"]


def test_list_orders_by_name(alice: Account) -> None:
    chat_id = new_chat(alice)
    made = {name: created(alice, chat_id, name=name)["id"] for name in ("b", "c", "a")}
    ascending = [made[name] for name in ("a", "b", "c")]
    assert ids(listed(alice, chat_id, orderby="name", desc="False")) == ascending
    assert ids(listed(alice, chat_id, orderby="name", desc="false")) == ascending
    assert ids(listed(alice, chat_id, orderby="name")) == ascending[::-1]


def test_list_by_unknown_id_or_name_is_empty(alice: Account) -> None:
    chat_id = new_chat(alice)
    created(alice, chat_id)
    assert listing(alice, chat_id, id="unknown") == {"code": 0, "data": []}
    assert listing(alice, chat_id, name="unknown") == {"code": 0, "data": []}
    assert listing(alice, chat_id, id=UNKNOWN_ID, name="New session") == {"code": 0, "data": []}


def test_an_empty_name_is_refused(alice: Account) -> None:
    chat_id = new_chat(alice)
    empty = {"code": 102, "message": "`name` can not be empty."}
    assert create(alice, chat_id, {"name": ""}) == empty
    session_id = created(alice, chat_id, name="kept")["id"]
    assert update(alice, chat_id, session_id, {"name": ""}) == empty
    assert [s["name"] for s in listed(alice, chat_id)] == ["kept"]
