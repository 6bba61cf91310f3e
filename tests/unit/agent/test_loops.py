"""Iteration and Loop in the runner: children with ``parent_id``, passes, collected outputs,
termination, ExitLoop, and the DSL checks of their children."""

from __future__ import annotations

from typing import Any

import pytest

from ragserve.agent import dsl as dsl_module
from ragserve.agent.components.loop import holds
from ragserve.agent.errors import ComponentError, DslError
from unit.agent.conftest import Runner, node, said


def child(name: str, parent: str, params: dict[str, Any] | None = None,
          downstream: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {**node(name, params, downstream), "parent_id": parent}


def iteration_dsl(items_ref: str = "env.fruits") -> dict[str, Any]:
    return {
        "components": {
            "begin": node("Begin", {}, ["iter"]),
            "iter": node(
                "Iteration",
                {"items_ref": items_ref,
                 "outputs": {"said": {"type": "Array<string>", "ref": "say@result"}}},
                ["after"],
            ),
            "item": child("IterationItem", "iter", {}, ["say"]),
            "say": child("StringTransform", "iter",
                         {"method": "merge", "script": "#{item@index}: {item@item}"}),
            "after": node("Message", {"content": ["{iter@said}"]}),
        },
        "variables": {"fruits": {"type": "array<string>", "value": ["apple", "pear", "fig"]}},
    }  # fmt: skip


def test_iteration_runs_the_body_per_item_and_collects(run: Runner) -> None:
    events, turn = run(iteration_dsl())
    assert turn.error is None
    assert said(events) == '["#0: apple", "#1: pear", "#2: fig"]'
    finished = [e.data["component_id"] for e in events if e.event == "node_finished"]
    assert finished == ["begin", "item", "say", "item", "say", "item", "say", "item", "iter",
                        "after"]  # fmt: skip
    iteration = next(
        e for e in events if e.event == "node_finished" and e.data["component_id"] == "iter"
    )
    assert iteration.data["outputs"]["said"] == ["#0: apple", "#1: pear", "#2: fig"]
    assert turn.dsl()["components"]["iter"]["obj"]["params"]["outputs"]["said"] == {
        "type": "Array<string>", "ref": "say@result", "value": ["#0: apple", "#1: pear", "#2: fig"]}  # fmt: skip


def test_iteration_over_an_empty_list_goes_straight_on(run: Runner) -> None:
    raw = iteration_dsl()
    raw["variables"]["fruits"]["value"] = []
    events, turn = run(raw)
    assert turn.error is None
    assert said(events) == "[]"


def test_iteration_over_a_non_list_fails(run: Runner) -> None:
    raw = iteration_dsl("begin@nothing")
    events, turn = run(raw)
    assert turn.error == "Iteration iter: begin@nothing must be an array, but its type is null."
    failed = [e.data for e in events if e.event == "node_finished"][-1]
    assert failed["component_id"] == "iter" and failed["error"] == turn.error


def test_iteration_runs_again_in_the_next_turn(run: Runner) -> None:
    events, turn = run(iteration_dsl())
    again, _ = run(turn.dsl())
    assert said(again) == said(events)


def loop_dsl(maximum: int = 10, conditions: list[dict[str, Any]] | None = None,
             exit_at: int | None = None) -> dict[str, Any]:  # fmt: skip
    body_end = ["check"] if exit_at is not None else []
    components: dict[str, Any] = {
        "begin": node("Begin", {}, ["loop"]),
        "loop": node(
            "Loop",
            {
                "loop_variables": [
                    {"variable": "count", "type": "number", "input_mode": "constant", "value": 0},
                    {"variable": "trail", "type": "string", "input_mode": "variable",
                     "value": "sys.query"},
                ],
                "loop_termination_condition": conditions or [],
                "maximum_loop_count": maximum,
            },
            ["done"],
        ),
        "start": child("LoopItem", "loop", {}, ["add"]),
        "add": child("VariableAssigner", "loop", {"variables": [
            {"variable": "loop@count", "operator": "+=", "parameter": 1},
            {"variable": "loop@trail", "operator": "overwrite",
             "parameter": "{loop@trail}+"},
        ]}, body_end),
        "done": node("Message", {"content": ["{loop@count} {loop@trail}"]}),
    }  # fmt: skip
    if exit_at is not None:
        components["check"] = child("Switch", "loop", {
            "conditions": [{"items": [{"cpn_id": "loop@count", "operator": "≥",
                                       "value": str(exit_at)}], "to": ["leave"]}],
            "end_cpn_ids": ["start"],
        }, ["leave"])  # fmt: skip
        components["leave"] = child("ExitLoop", "loop")
    return {"components": components}


def test_loop_stops_at_its_maximum_count(run: Runner) -> None:
    events, turn = run(loop_dsl(maximum=3), "go")
    assert turn.error is None
    assert said(events) == "3 go+++"
    finished = [e.data["component_id"] for e in events if e.event == "node_finished"]
    assert finished[-3:] == ["start", "loop", "done"]
    assert finished.count("add") == 3


def test_loop_stops_when_its_condition_holds(run: Runner) -> None:
    condition = [{"variable": "{loop@count}", "operator": "≥", "value": 2}]
    events, _ = run(loop_dsl(maximum=10, conditions=condition), "go")
    assert said(events) == "2 go++"


def test_loop_conditions_joined_by_or(run: Runner) -> None:
    raw = loop_dsl(maximum=10, conditions=[
        {"variable": "loop@count", "operator": "=", "value": "4"},
        {"variable": "loop@trail", "operator": "end with", "value": "+++"},
    ])  # fmt: skip
    raw["components"]["loop"]["obj"]["params"]["logical_operator"] = "or"
    assert said(run(raw, "go")[0]) == "3 go+++"


def test_loop_with_count_zero_never_runs_its_body(run: Runner) -> None:
    assert said(run(loop_dsl(maximum=0), "go")[0]) == "0 go"


def test_exit_loop_leaves_the_loop(run: Runner) -> None:
    events, turn = run(loop_dsl(maximum=10, exit_at=2), "go")
    assert turn.error is None
    assert said(events) == "2 go++"
    finished = [e.data["component_id"] for e in events if e.event == "node_finished"]
    assert finished[-3:] == ["leave", "loop", "done"]


def test_loop_bad_operator_fails_the_run(run: Runner) -> None:
    raw = loop_dsl(conditions=[{"variable": "loop@count", "operator": "start with", "value": 1}])
    _, turn = run(raw, "go")
    assert turn.error == "Invalid operator: start with"


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("abc", "contains", "b", True),
        ("abc", "is not", "abc", False),
        ("", "empty", "", True),
        (3, ">", "2", True),
        (3, "≤", 3, True),
        (2.5, "≠", 2.5, False),
        (True, "is", "true", True),
        (False, "is not", True, True),
        ({}, "empty", None, True),
        (["a"], "contains", "a", True),
        ([], "not empty", None, False),
        (None, "empty", None, True),
        (None, "is", "x", False),
    ],
)
def test_termination_operators(left: Any, operator: str, right: Any, expected: bool) -> None:
    assert holds(left, operator, right) is expected


def test_number_compared_with_text_fails() -> None:
    with pytest.raises(ComponentError, match="not a number"):
        holds(1, ">", "many")


def test_children_are_checked_when_the_dsl_loads() -> None:
    raw = iteration_dsl()
    del raw["components"]["item"]
    raw["components"]["say"]["parent_id"] = "iter"
    with pytest.raises(DslError, match="needs one IterationItem child"):
        dsl_module.load(raw)
    raw = iteration_dsl()
    raw["components"]["say"]["parent_id"] = "nowhere"
    with pytest.raises(DslError, match="its parent `nowhere` is not a component"):
        dsl_module.load(raw)
    raw = iteration_dsl()
    raw["components"]["say"]["parent_id"] = "after"
    with pytest.raises(DslError, match="is a Message, not an Iteration or a Loop"):
        dsl_module.load(raw)
    raw = loop_dsl()
    raw["components"]["start"]["parent_id"] = None
    with pytest.raises(DslError, match="needs one LoopItem child"):
        dsl_module.load(raw)
