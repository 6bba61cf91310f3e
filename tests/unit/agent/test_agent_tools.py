"""The Agent component: tool calling against the fake model server (which calls a tool when
offered some, then answers from the tool's result), Retrieval and sub-agents as tools,
``max_rounds``, cited answers, and the DSL checks of its tools."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers.fake_openai import FakeOpenAI
from ragserve.agent import dsl as dsl_module
from ragserve.agent.context import chunk_key
from ragserve.agent.errors import DslError
from ragserve.agent.runner import Run, RunCall
from unit.agent.conftest import Environment, Runner, chain, said

SEARCH_TOOL = {"component_name": "Retrieval", "name": "Retrieval",
               "params": {"kb_ids": ["ds-1"], "top_n": 1, "description": "Bird facts."}}  # fmt: skip


def agent_dsl(**params: Any) -> dict[str, Any]:
    return chain(
        ("agent", "Agent", {"llm_id": "openai/fake-chat", "sys_prompt": "Be brief.", **params}),
        ("m", "Message", {"content": ["{agent@content}"]}),
    )


def chat_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/v1/chat/completions"]


def test_the_model_calls_retrieval_and_the_answer_cites_it(
    run: Runner, environment: Environment, fake: FakeOpenAI
) -> None:
    events, turn = run(agent_dsl(tools=[SEARCH_TOOL]), "do cranes migrate")
    key = str(chunk_key("chunk-cranes"))
    assert said(events) == f"According to Retrieval, here it is [ID:{key}]."
    [query] = environment.queries
    assert query.question == "do cranes migrate" and query.dataset_ids == ("ds-1",)
    end = next(e for e in events if e.event == "message_end").data
    assert end["reference"]["chunks"][key]["id"] == "chunk-cranes"
    assert turn.reference["chunks"][key]["document_name"] == "cranes.md"
    first, second = chat_requests(fake)
    assert first["stream"] is True and second["stream"] is True
    assert len([e for e in events if e.event == "message"]) > 1  # streamed as it comes
    [finished] = [e.data for e in events if e.event == "node_finished"
                  and e.data["component_id"] == "agent"]  # fmt: skip
    assert finished["outputs"]["content"] is None  # still streaming when the node finished
    [function] = first["tools"]
    assert function["function"]["name"] == "Retrieval"
    assert function["function"]["description"] == "Bird facts."
    assert "[ID:n]" in first["messages"][0]["content"]  # asked to cite
    assert second["messages"][-1]["role"] == "tool"
    assert f"ID: {key}" in second["messages"][-1]["content"]
    outputs = turn.dsl()["components"]["agent"]["obj"]["params"]["outputs"]
    [used] = outputs["use_tools"]["value"]
    assert used["name"] == "Retrieval" and used["arguments"] == {"query": "do cranes migrate"}


def test_nothing_found_goes_back_to_the_model(run: Runner, fake: FakeOpenAI) -> None:
    events, turn = run(agent_dsl(tools=[SEARCH_TOOL]), "quantum chromodynamics")
    assert said(events) == "According to Retrieval: Nothing was found."
    assert turn.reference == {}


def test_a_sub_agent_answers_with_its_own_tools(run: Runner, fake: FakeOpenAI) -> None:
    researcher = {"component_name": "Agent", "name": "Researcher",
                  "params": {"llm_id": "openai/fake-chat", "sys_prompt": "Research.",
                             "description": "Finds facts.", "tools": [SEARCH_TOOL]}}  # fmt: skip
    events, _ = run(agent_dsl(tools=[researcher]), "when do cranes migrate")
    key = str(chunk_key("chunk-cranes"))
    assert (
        said(events) == f"According to Researcher: According to Retrieval, here it is [ID:{key}]."
    )
    end = next(e for e in events if e.event == "message_end").data
    assert end["reference"]["chunks"][key]["id"] == "chunk-cranes"
    requests = chat_requests(fake)
    assert [len(r["messages"]) for r in requests] == [2, 2, 4, 4]
    sub_first = requests[1]
    assert sub_first["messages"] == [
        {"role": "system", "content": sub_first["messages"][0]["content"]},
        {"role": "user", "content": "when do cranes migrate"},
    ]
    assert sub_first["messages"][0]["content"].startswith("Research.")
    outer = requests[0]["tools"][0]["function"]
    assert outer["name"] == "Researcher" and outer["description"] == "Finds facts."
    assert outer["parameters"]["required"] == ["user_prompt"]


def test_max_rounds_bounds_the_tool_calls(
    run: Runner, environment: Environment, fake: FakeOpenAI
) -> None:
    events, _ = run(agent_dsl(tools=[SEARCH_TOOL], max_rounds=0), "do cranes migrate")
    assert environment.queries == []
    [request] = chat_requests(fake)
    assert request["tool_choice"] == "none"
    assert said(events).startswith("According to the tool")


def test_an_agent_without_tools_is_an_llm(run: Runner, fake: FakeOpenAI) -> None:
    events, _ = run(agent_dsl(), "hello")
    assert said(events) == "Fake answer to: hello"
    assert len([e for e in events if e.event == "message"]) > 1  # streamed piece by piece
    assert "tools" not in chat_requests(fake)[0]


def test_structured_answer(run: Runner) -> None:
    def answer(messages: list[dict[str, Any]]) -> str:
        return json.dumps({"found": messages[-1]["role"] == "tool"})

    with FakeOpenAI(tool_reply=answer) as other:
        environment = Environment(other.base_url)
        graph = dsl_module.load(agent_dsl(tools=[SEARCH_TOOL], output_structure={"type": "object"}))
        turn = Run(graph, environment, RunCall(query="cranes"))
        list(turn.events())
        outputs = turn.dsl()["components"]["agent"]["obj"]["params"]["outputs"]
        assert outputs["structured"]["value"] == {"found": True}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mcp": [{"mcp_id": ""}]}, "parameter `mcp.0.mcp_id`"),
        ({"mcp": [{"mcp_id": "srv", "tools": ["shout"]}]}, "parameter `mcp.0.tools`"),
        ({"tools": [{"component_name": "AkShare", "params": {}}]},
         "tool 0 (`AkShare`) cannot be an Agent tool yet"),
        ({"tools": [{"component_name": "ExeSQL", "params": {"db_type": "oracle"}}]},
         "tool 0 parameter `db_type`"),
        ({"tools": [{"component_name": "Retrieval", "params": {"top_n": 0}}]},
         "tool 0 parameter `top_n`"),
        ({"max_rounds": -1}, "parameter `max_rounds`"),
    ],
)  # fmt: skip
def test_refused_tools_name_the_parameter(params: dict[str, Any], message: str) -> None:
    with pytest.raises(DslError, match="Component `agent` \\(Agent\\)") as error:
        dsl_module.load(agent_dsl(**params))
    assert message in str(error.value)


def test_a_failing_tool_tells_the_model(
    run: Runner, environment: Environment, fake: FakeOpenAI
) -> None:
    environment.failures = 1
    events, turn = run(agent_dsl(tools=[SEARCH_TOOL]), "do cranes migrate")
    assert said(events) == "According to Retrieval: The tool failed: the search failed"
    assert chat_requests(fake)[1]["messages"][-1]["content"] == "The tool failed: the search failed"
    assert turn.reference == {}


def test_a_tool_searches_the_datasets_a_form_names(run: Runner, environment: Environment) -> None:
    tool = {"component_name": "Retrieval", "name": "search", "params": {"kb_ids": ["begin@kb"]}}
    raw = agent_dsl(tools=[tool])
    raw["components"]["begin"]["obj"]["params"] = {
        "inputs": {"kb": {"type": "options", "options": ["ds-1"], "value": "ds-1"}}
    }
    events, _ = run(raw, "do cranes migrate")
    assert [q.dataset_ids for q in environment.queries] == [("ds-1",)]
    assert "[ID:" in said(events)


SHOUT = {"name": "shout", "description": "Says the text loudly.", "enabled": True,
         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                         "required": ["text"]}}  # fmt: skip


def test_mcp_tools_are_offered_and_called_through_the_environment(
    run: Runner, environment: Environment, fake: FakeOpenAI
) -> None:
    """The model sees the enabled tools of ``mcp`` under their names (made unique) with their
    schemas; its call goes to the environment with its arguments, and the answer uses the
    result."""
    tools = {"shout": SHOUT, "Retrieval": {**SHOUT, "name": "Retrieval"},
             "add": {**SHOUT, "name": "add", "enabled": False}}  # fmt: skip
    dsl = agent_dsl(tools=[SEARCH_TOOL], mcp=[{"mcp_id": "srv", "tools": tools}])
    events, turn = run(dsl, "please shout hello")
    assert environment.mcp_calls == [("srv", "shout", {"text": "please shout hello"})]
    assert said(events) == 'According to shout: shout got {"text": "please shout hello"}'
    first = chat_requests(fake)[0]
    functions = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert list(functions) == ["Retrieval", "shout", "Retrieval_2"]
    assert functions["shout"]["parameters"] == SHOUT["inputSchema"]
    assert functions["shout"]["description"] == "Says the text loudly."
    outputs = turn.dsl()["components"]["agent"]["obj"]["params"]["outputs"]
    [used] = outputs["use_tools"]["value"]
    assert used["name"] == "shout" and used["results"].startswith("shout got")


def test_an_mcp_agent_without_other_tools_and_a_missing_server(
    run: Runner, environment: Environment
) -> None:
    events, _ = run(agent_dsl(mcp=[{"mcp_id": "gone", "tools": {"shout": SHOUT}}]), "shout it")
    assert environment.mcp_calls == [("gone", "shout", {"text": "shout it"})]
    assert said(events) == (
        "According to shout: The tool failed: Cannot find MCP server gone for user tenant-1"
    )
