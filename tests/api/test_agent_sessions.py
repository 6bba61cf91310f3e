"""/api/v1/agents/{id}/sessions: open, list, delete; each session keeps its own DSL."""

from __future__ import annotations

from typing import Any

from api.test_agents import ECHO_DSL, make_agent
from conftest import Account


def open_session(account: Account, agent: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.post(
        f"/api/v1/agents/{agent}/sessions", params=params, json={"ignored": 1},
        headers=account.api_headers,
    ).json()  # fmt: skip
    return result


def list_sessions(account: Account, agent: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.get(
        f"/api/v1/agents/{agent}/sessions", params=params, headers=account.api_headers
    ).json()
    return result


def delete_sessions(account: Account, agent: str, body: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = account.client.request(
        "DELETE", f"/api/v1/agents/{agent}/sessions", json=body, headers=account.api_headers
    ).json()
    return result


def test_open_a_session(alice: Account) -> None:
    agent = make_agent(alice)
    opened = open_session(alice, agent, user_id="end-user-1")
    assert opened["code"] == 0
    data = opened["data"]
    assert data["agent_id"] == agent and data["user_id"] == "end-user-1"
    assert data["message"] == [{"role": "assistant", "content": "Hi, I echo."}]
    assert data["source"] == "agent"
    assert data["dsl"]["components"] == ECHO_DSL["components"]
    assert data["dsl"]["history"] == [] and data["dsl"]["path"] == []


def test_open_checks_the_dsl_and_the_owner(alice: Account, bob: Account) -> None:
    broken = {"components": {"begin": ECHO_DSL["components"]["begin"],
                             "message": {"obj": {"component_name": "Teleporter", "params": {}}}}}  # fmt: skip
    agent = make_agent(alice, "broken", broken)
    refused = open_session(alice, agent)
    assert refused == {
        "code": 101,
        "message": "Component `message`: unknown component `Teleporter`.",
    }
    bad_param = dict(ECHO_DSL, components={**ECHO_DSL["components"], "message": {
        "obj": {"component_name": "Message", "params": {"content": 5}}, "downstream": []}})  # fmt: skip
    agent = make_agent(alice, "bad", bad_param)
    refused = open_session(alice, agent)
    assert refused["code"] == 101
    assert refused["message"].startswith(
        "Component `message` (Message): parameter `content`: Input should be a valid list"
    )
    assert open_session(bob, agent) == {"code": 102, "message": "Agent not found."}
    assert open_session(alice, "0" * 32) == {"code": 102, "message": "Agent not found."}


def test_list_sessions(alice: Account, bob: Account) -> None:
    agent = make_agent(alice)
    first = open_session(alice, agent, user_id="u1")["data"]["id"]
    second = open_session(alice, agent, user_id="u2")["data"]["id"]
    listed = list_sessions(alice, agent)["data"]
    assert [s["id"] for s in listed] == [second, first]  # newest first by default
    assert listed[0]["messages"] == [{"role": "assistant", "content": "Hi, I echo."}]
    assert listed[0]["dsl"]["components"] == ECHO_DSL["components"]
    assert {"tokens", "duration", "round", "thumb_up", "errors", "create_time"} <= set(listed[0])
    plain = list_sessions(alice, agent, dsl="false", desc="false", user_id="u1")["data"]
    assert [s["id"] for s in plain] == [first] and "dsl" not in plain[0]
    assert [s["id"] for s in list_sessions(alice, agent, id=second)["data"]] == [second]
    assert list_sessions(alice, agent, page_size=0)["code"] == 101
    assert list_sessions(bob, agent) == {
        "code": 102,
        "message": f"You don't own the agent {agent}.",
    }
    assert list_sessions(alice, "0" * 32)["code"] == 102


def test_delete_sessions(alice: Account, bob: Account) -> None:
    agent = make_agent(alice)
    assert delete_sessions(alice, agent) == {
        "code": 102,
        "message": f"Agent {agent} has no sessions",
    }
    ids = [open_session(alice, agent)["data"]["id"] for _ in range(3)]
    assert delete_sessions(bob, agent, {"ids": ids}) == {
        "code": 102, "message": f"You don't own the agent {agent}",
    }  # fmt: skip
    partial = delete_sessions(alice, agent, {"ids": [ids[0], "f" * 32]})
    assert partial == {"code": 0, "data": {"success_count": 1,
                       "errors": [f"The agent doesn't own the session {'f' * 32}"]}}  # fmt: skip
    assert delete_sessions(alice, agent, {"ids": ["f" * 32]})["code"] == 102
    assert delete_sessions(alice, agent, {"ids": "x"})["code"] == 101
    assert delete_sessions(alice, agent, {}) == {"code": 0}
    assert list_sessions(alice, agent)["data"] == []
