"""An agent's Agent component calling a tool of a registered MCP server: the real MCP server of
``helpers/fake_mcp.py``, the fake model server (which calls the tool the question names, then
answers from its result) and the agent completion route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_agent_completions import run
from api.test_agents import make_agent
from conftest import Account
from helpers.fake_mcp import FakeMcp, fake_mcp
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcp]:
    with fake_mcp() as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    base = fake.settings(tmp_path / "home", "sk-test-key")
    return base.model_copy(update={"allow_private_urls": True})


def register(account: Account, url: str, server_type: str) -> dict[str, Any]:
    body = {"name": f"tools {server_type}", "url": url, "server_type": server_type}
    result = account.post("/v1/mcp_server/create", json=body).json()
    assert result["code"] == 0, result
    server: dict[str, Any] = result["data"]
    return server


def mcp_dsl(mcp_id: str, tools: dict[str, Any]) -> dict[str, Any]:
    return {"components": {
        "begin": {"obj": {"component_name": "Begin", "params": {}}, "downstream": ["Agent:A"]},
        "Agent:A": {"obj": {"component_name": "Agent", "params": {
            "llm_id": "openai/fake-chat", "sys_prompt": "Use your tools.",
            "mcp": [{"mcp_id": mcp_id, "tools": tools}], "max_rounds": 1}},
            "downstream": ["Message:Out"]},
        "Message:Out": {"obj": {"component_name": "Message",
                                "params": {"content": ["{Agent:A@content}"]}}},
    }}  # fmt: skip


def answer(account: Account, agent: str, question: str) -> str:
    events = run(account, agent, question=question)
    return "".join(e["data"]["content"] for e in events if e["event"] == "message")


@pytest.mark.parametrize("server_type", ["streamable-http", "sse"])
def test_the_agent_calls_the_mcp_tool_and_answers_with_its_result(
    alice: Account, mcp: FakeMcp, fake: FakeOpenAI, server_type: str
) -> None:
    url = mcp.mcp_url if server_type == "streamable-http" else mcp.sse_url
    server = register(alice, url, server_type)
    tools = {name: server["variables"]["tools"][name] for name in ("shout", "add")}
    agent = make_agent(alice, "mcp agent", mcp_dsl(server["id"], tools))
    text = answer(alice, agent, "Please shout: cranes fly south")
    assert text == "According to shout: PLEASE SHOUT: CRANES FLY SOUTH!", text
    called = [r.body for r in fake.requests if r.body.get("tools")]
    offered = {t["function"]["name"]: t["function"] for t in called[0]["tools"]}
    assert set(offered) == {"shout", "add"}
    assert offered["add"]["parameters"]["required"] == ["a", "b"]
    assert called[1]["messages"][-1] == {
        "role": "tool", "tool_call_id": called[1]["messages"][-1]["tool_call_id"],
        "content": "PLEASE SHOUT: CRANES FLY SOUTH!",
    }  # fmt: skip


def test_a_server_of_another_tenant_is_not_called(
    alice: Account, bob: Account, mcp: FakeMcp
) -> None:
    theirs = register(bob, mcp.mcp_url, "streamable-http")
    tools = {"shout": theirs["variables"]["tools"]["shout"]}
    agent = make_agent(alice, "borrowing agent", mcp_dsl(theirs["id"], tools))
    text = answer(alice, agent, "shout this")
    assert text == (
        f"According to shout: The tool failed: Cannot find MCP server {theirs['id']} "
        f"for user {alice.id}"
    )


def test_a_failing_mcp_tool_tells_the_model(alice: Account, mcp: FakeMcp) -> None:
    server = register(alice, mcp.mcp_url, "streamable-http")
    tools = {"broken": server["variables"]["tools"]["broken"]}
    agent = make_agent(alice, "broken agent", mcp_dsl(server["id"], tools))
    text = answer(alice, agent, "use broken")
    assert (
        text == "According to broken: MCP server error: Error executing tool broken: the tool broke"
    )
