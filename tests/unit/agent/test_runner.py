"""The runner: order, batches, routing, exceptions, time limit, turns and pauses."""

from __future__ import annotations

import time

from ragserve.agent import dsl as dsl_module
from ragserve.agent.runner import Run, RunCall
from unit.agent.conftest import Environment, Runner, chain, node, said


def test_begin_to_message_echoes_the_question(run: Runner) -> None:
    events, turn = run(chain(("message", "Message", {"content": ["{sys.query}"]})), "Hi there")
    kinds = [e.event for e in events]
    assert kinds == [
        "workflow_started", "node_started", "node_finished", "node_started", "message",
        "message_end", "node_finished", "workflow_finished",
    ]  # fmt: skip
    assert said(events) == "Hi there"
    assert turn.answer == "Hi there"
    stored = turn.dsl()
    assert stored["path"] == ["begin", "message"]
    assert stored["history"] == [["user", "Hi there"], ["assistant", "Hi there"]]
    assert stored["globals"]["sys.conversation_turns"] == 1
    assert (
        stored["components"]["message"]["obj"]["params"]["outputs"]["content"]["value"]
        == "Hi there"
    )


def test_llm_streams_through_the_message(run: Runner) -> None:
    raw = chain(
        ("llm", "LLM", {"llm_id": "openai/fake-chat", "sys_prompt": "Be brief."}),
        ("msg", "Message", {"content": ["Answer: {llm@content}!"]}),
    )
    events, turn = run(raw, "why is the sky blue")
    pieces = [e.data["content"] for e in events if e.event == "message"]
    assert pieces[0] == "Answer: "
    assert len(pieces) > 3  # word by word, as the model streamed it
    assert turn.answer == "Answer: Fake answer to: why is the sky blue!"
    llm_done = next(
        e for e in events if e.event == "node_finished" and e.data["component_id"] == "llm"
    )
    assert llm_done.data["outputs"]["content"] is None  # still streaming then


def test_reasoning_comes_between_markers(run: Runner) -> None:
    raw = chain(("llm", "LLM", {}), ("msg", "Message", {"content": "{llm@content}"}))
    events, turn = run(raw, "think")
    messages = [e.data for e in events if e.event == "message"]
    assert messages[0] == {"content": "", "start_to_think": True}
    assert {"content": "", "end_to_think": True} in messages
    assert turn.answer == "Thought it over."


def test_unknown_references_of_components_that_did_not_run_are_empty(run: Runner) -> None:
    raw = chain(("msg", "Message", {"content": ["[{begin@missing}] {env.nothing}|{sys.user_id}"]}))
    events, _ = run(raw, "q", user_id="u-7")
    assert said(events) == "[] |u-7"


def test_switch_routes_by_condition(run: Runner) -> None:
    raw = {
        "components": {
            "begin": node("Begin", {}, ["switch"]),
            "switch": node(
                "Switch",
                {
                    "conditions": [
                        {"items": [{"cpn_id": "sys.query", "operator": "contains", "value": "bread"}],
                         "logical_operator": "and", "to": ["yes"]},
                    ],
                    "end_cpn_ids": ["no"],
                },
                ["yes", "no"],
            ),
            "yes": node("Message", {"content": ["about bread"]}),
            "no": node("Message", {"content": ["not about bread"]}),
        }
    }  # fmt: skip
    assert said(run(raw, "how to bake bread")[0]) == "about bread"
    assert said(run(raw, "cranes")[0]) == "not about bread"


def test_branches_meet_once_and_run_in_one_batch(run: Runner) -> None:
    raw = {
        "components": {
            "begin": node("Begin", {}, ["a", "b"]),
            "a": node("VariableAssigner", {"variables": [{"variable": "env.a", "parameter": "1"}]}, ["c"]),
            "b": node("VariableAssigner", {"variables": [{"variable": "env.b", "parameter": "2"}]}, ["b2"]),
            "b2": node("VariableAssigner", {"variables": [{"variable": "env.c", "parameter": "3"}]}, ["c"]),
            "c": node("Message", {"content": ["{env.a}{env.b}{env.c}"]}),
        }
    }  # fmt: skip
    events, turn = run(raw)
    assert said(events) == "123"
    assert turn.dsl()["path"] == ["begin", "a", "b", "b2", "c"]  # c waited for b2


def test_retries_then_fails_with_an_error_message(run: Runner, environment: Environment) -> None:
    environment.failures = 5
    raw = chain(
        ("search", "Retrieval", {"kb_ids": ["ds-1"], "max_retries": 2, "delay_after_error": 0}),
        ("msg", "Message", {"content": ["{search@formalized_content}"]}),
    )
    events, turn = run(raw, "cranes")
    assert len(environment.queries) == 3
    assert said(events) == "**ERROR**: the search failed"
    assert turn.error == "the search failed"
    assert events[-1].event == "workflow_finished"
    assert events[-1].data["outputs"]["_ERROR"] == "the search failed"


def test_a_retry_that_succeeds_goes_on(run: Runner, environment: Environment) -> None:
    environment.failures = 1
    raw = chain(
        ("search", "Retrieval", {"kb_ids": ["ds-1"], "max_retries": 1, "delay_after_error": 0}),
        ("msg", "Message", {"content": ["{search@json.0.document_name}"]}),
    )
    assert said(run(raw, "cranes")[0]) == "cranes.md"


def test_exception_goto_and_default_value(run: Runner, environment: Environment) -> None:
    environment.failures = 2
    raw = {
        "components": {
            "begin": node("Begin", {}, ["search"]),
            "search": node(
                "Retrieval",
                {"kb_ids": ["ds-1"], "exception_method": "goto", "exception_goto": ["sorry"]},
                ["msg"],
            ),
            "msg": node("Message", {"content": ["found"]}),
            "sorry": node("Message", {"content": ["Sorry: {search@_ERROR}"]}),
        }
    }
    assert said(run(raw, "cranes")[0]) == "Sorry: the search failed"
    raw["components"]["search"]["obj"]["params"] = {
        "kb_ids": ["ds-1"], "exception_method": "comment", "exception_default_value": "nothing",
    }  # fmt: skip
    raw["components"]["msg"]["obj"]["params"] = {"content": ["got {search@content}"]}
    assert said(run(raw, "cranes")[0]) == "got nothing"


def test_time_limit_stops_the_run(run: Runner, environment: Environment) -> None:
    environment.failures = 5
    raw = chain(
        ("search", "Retrieval", {"kb_ids": ["ds-1"], "max_retries": 5, "delay_after_error": 1})
    )
    started = time.monotonic()
    events, turn = run(raw, "cranes", time_limit=0.5)
    assert time.monotonic() - started < 3
    assert turn.error == "The agent run exceeded its time limit of 0.5 s."
    assert said(events).startswith("**ERROR**: The agent run exceeded")


def test_history_and_turns_carry_over(run: Runner, environment: Environment) -> None:
    raw = chain(("msg", "Message", {"content": ["turn {sys.conversation_turns}: {sys.query}"]}))
    _, first = run(raw, "one")
    graph = dsl_module.load(first.dsl())
    second = Run(graph, environment, RunCall(query="two"))
    assert said(list(second.events())) == "turn 2: two"
    assert second.dsl()["history"] == [
        ["user", "one"], ["assistant", "turn 1: one"], ["user", "two"], ["assistant", "turn 2: two"],
    ]  # fmt: skip


def test_user_fill_up_pauses_and_the_next_call_resumes(
    run: Runner, environment: Environment
) -> None:
    raw = chain(
        ("ask", "UserFillUp", {"inputs": {"city": {"name": "City", "type": "line", "optional": False}},
                               "tips": "Where to, {sys.query}?"}),
        ("msg", "Message", {"content": ["Going to {ask@city}"]}),
    )  # fmt: skip
    events, first = run(raw, "traveller")
    assert events[-1].event == "user_inputs"
    assert events[-1].data["tips"] == "Where to, traveller?"
    assert "city" in events[-1].data["inputs"]
    stored = first.dsl()
    assert stored["paused_at"] == "ask"
    resumed = Run(dsl_module.load(stored), environment, RunCall(inputs={"city": {"value": "Oslo"}}))
    assert said(list(resumed.events())) == "Going to Oslo"
    after = resumed.dsl()
    assert after["paused_at"] is None
    assert after["path"] == ["begin", "ask", "msg"]


def test_begin_inputs_are_outputs_and_kept(run: Runner, environment: Environment) -> None:
    raw = chain(("msg", "Message", {"content": ["Hello {begin@name}"]}))
    raw["components"]["begin"]["obj"]["params"] = {
        "inputs": {"name": {"name": "Name", "type": "line", "optional": False}}
    }
    events, turn = run(raw, "q", inputs={"name": {"type": "line", "value": "Ada"}})
    assert said(events) == "Hello Ada"
    again = Run(dsl_module.load(turn.dsl()), environment, RunCall(query="again"))
    assert said(list(again.events())) == "Hello Ada"
    events, turn = run(raw, "q")
    assert said(events) == "**ERROR**: Begin: the input `name` (Name) is required."
