"""An agent with a Loop, an Iteration and the data components, run through
POST /api/v1/agents/{id}/completions; the session keeps the outputs for the next turn."""

from __future__ import annotations

from typing import Any

from api.test_agents import make_agent
from conftest import Account


def node(name: str, params: dict[str, Any], down: list[str], parent: str | None = None) -> dict[str, Any]:  # fmt: skip
    found: dict[str, Any] = {"obj": {"component_name": name, "params": params},
                             "downstream": down, "upstream": []}  # fmt: skip
    if parent:
        found["parent_id"] = parent
    return found


FLOW = {
    "components": {
        "begin": node("Begin", {}, ["split"]),
        "split": node("StringTransform", {"method": "split", "split_ref": "sys.query",
                                          "delimiters": [","]}, ["each"]),
        "each": node("Iteration", {"items_ref": "split@result",
                                   "outputs": {"shouted": {"type": "Array<string>",
                                                           "ref": "shout@result"}}}, ["top"]),
        "item": node("IterationItem", {}, ["shout"], "each"),
        "shout": node("StringTransform", {"method": "merge", "script": "{item@item}!"}, [], "each"),
        "top": node("ListOperations", {"query": "each@shouted", "operations": "sort",
                                       "sort_method": "desc"}, ["say"]),
        "say": node("Message", {"content": ["{top@result} first={top@first}"]}, []),
    },
}  # fmt: skip


def test_a_flow_agent_answers(alice: Account) -> None:
    agent = make_agent(alice, "flow", FLOW)
    response = alice.client.post(
        f"/api/v1/agents/{agent}/completions",
        json={"question": "b,c,a", "stream": False},
        headers=alice.api_headers,
    ).json()
    assert response["code"] == 0, response
    assert response["data"]["data"]["content"] == '["c!", "b!", "a!"] first=c!'
    again = alice.client.post(
        f"/api/v1/agents/{agent}/completions",
        json={"question": "y,x", "stream": False, "session_id": response["data"]["session_id"]},
        headers=alice.api_headers,
    ).json()
    assert again["data"]["data"]["content"] == '["y!", "x!"] first=y!'
