"""PUT /v1/canvas/cancel/{task_id}: the agent's running turns get their cancel flag, another
tenant's are left alone (the runner's side: tests/unit/agent/test_cancel.py)."""

from __future__ import annotations

import threading

from api.test_agents import make_agent
from conftest import Account
from ragserve.services.agent_cancel import RUNNING


def cancel(account: Account, task_id: str, api: bool = False) -> object:
    headers = account.api_headers if api else account.web_headers
    response = account.client.put(f"/v1/canvas/cancel/{task_id}", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_cancel_sets_the_flags_of_the_agents_running_turns(alice: Account) -> None:
    agent = make_agent(alice)
    first, second, elsewhere = threading.Event(), threading.Event(), threading.Event()
    with (
        RUNNING.running(agent, first),
        RUNNING.running(agent, second),
        RUNNING.running("another-agent", elsewhere),
    ):
        assert cancel(alice, agent) == {"code": 0, "message": "success", "data": True}
    assert first.is_set() and second.is_set()
    assert not elsewhere.is_set()


def test_cancel_with_an_api_key_and_nothing_running(alice: Account) -> None:
    agent = make_agent(alice)
    assert cancel(alice, agent, api=True) == {"code": 0, "message": "success", "data": True}
    flag = threading.Event()
    with RUNNING.running(agent, flag):
        pass
    assert cancel(alice, agent) == {"code": 0, "message": "success", "data": True}
    assert not flag.is_set()  # a turn that ended is not cancelled


def test_another_tenants_agent_is_left_alone(alice: Account, bob: Account) -> None:
    agent = make_agent(alice)
    flag = threading.Event()
    with RUNNING.running(agent, flag):
        assert cancel(bob, agent) == {"code": 0, "message": "success", "data": True}
        assert cancel(bob, "no-such-agent") == {"code": 0, "message": "success", "data": True}
    assert not flag.is_set()


def test_cancel_needs_a_login(alice: Account) -> None:
    response = alice.client.put("/v1/canvas/cancel/whatever")
    assert response.json()["code"] == 401
