"""VariableAggregator, DataOperations, ListOperations and StringTransform, each run in a
DSL."""

from __future__ import annotations

from typing import Any

import pytest

from ragserve.agent import dsl as dsl_module
from ragserve.agent.errors import DslError
from unit.agent.conftest import Runner, chain, node

PEOPLE = [
    {"name": "Ada", "age": "36", "city": "London"},
    {"name": "Alan", "age": "41", "city": "Wilmslow"},
    {"name": "Grace", "age": "85", "city": "Arlington"},
]


def outputs_of(run: Runner, component: tuple[str, str, dict[str, Any]],
               variables: dict[str, Any] | None = None, query: str = "q") -> dict[str, Any]:  # fmt: skip
    raw = chain(component)
    raw["variables"] = {
        name: {"type": "object", "value": v} for name, v in (variables or {}).items()
    }
    _, turn = run(raw, query)
    assert turn.error is None, turn.error
    return turn.state.outputs[component[0]]


# --- VariableAggregator ------------------------------------------------------------------------


def test_aggregator_takes_the_first_non_empty_per_group(run: Runner) -> None:
    raw = {
        "components": {
            "begin": node("Begin", {}, ["empty"]),
            "empty": node("StringTransform", {"method": "merge", "script": ""}, ["agg"]),
            "agg": node("VariableAggregator", {"groups": [
                {"group_name": "answer", "variables": [
                    {"value": "empty@result"}, {"value": "{sys.query}"}, {"value": "env.x"}]},
                {"group_name": "nothing", "variables": ["empty@result", "never@result"]},
            ]}),
            "never": node("StringTransform", {"method": "merge", "script": "x"}),
        }
    }  # fmt: skip
    _, turn = run(raw, "the question")
    assert turn.error is None
    outputs = turn.state.outputs["agg"]
    assert outputs["answer"] == "the question"
    assert outputs["nothing"] is None


def test_aggregator_needs_groups() -> None:
    with pytest.raises(DslError, match=r"\(VariableAggregator\): parameter `groups`"):
        dsl_module.load(chain(("agg", "VariableAggregator", {"groups": []})))
    with pytest.raises(DslError, match=r"parameter `groups.0.variables`"):
        dsl_module.load(chain(("agg", "VariableAggregator", {"groups": [{"group_name": "a"}]})))


# --- DataOperations ----------------------------------------------------------------------------


def operate(run: Runner, **params: Any) -> Any:
    component = ("ops", "DataOperations", {"inputs": ["env.people", "{env.one}"], **params})
    outputs = outputs_of(run, component, {"people": PEOPLE, "one": {"name": "Edsger", "age": 72}})
    return outputs["result"]


def test_select_keys(run: Runner) -> None:
    assert operate(run, operations="select keys", select_keys=["name"]) == [
        {"name": "Ada"}, {"name": "Alan"}, {"name": "Grace"}, {"name": "Edsger"}]  # fmt: skip


def test_literal_eval(run: Runner) -> None:
    result = operate(run, operations="literal_eval")
    assert result[0] == {"name": "Ada", "age": 36, "city": "London"}
    assert result[3] == {"name": "Edsger", "age": 72}


def test_combine(run: Runner) -> None:
    result = operate(run, operations="combine")
    assert result["name"] == ["Ada", "Alan", "Grace", "Edsger"]
    assert result["city"] == ["London", "Wilmslow", "Arlington"]


def test_filter_values(run: Runner) -> None:
    rules = [{"key": "name", "operator": "starts with", "value": "A"},
             {"key": "city", "operator": "not equals", "value": "London"}]  # fmt: skip
    assert operate(run, operations="filter values", filter_values=rules) == [PEOPLE[1]]
    assert operate(run, operations="filter values", filter_values=[
        {"key": "age", "operator": "equals", "value": 72}]) == [{"name": "Edsger", "age": 72}]  # fmt: skip


def test_append_remove_and_rename(run: Runner) -> None:
    updated = operate(run, operations="append or update", updates=[{"key": "age", "value": 1}])
    assert {item["age"] for item in updated} == {1}
    removed = operate(run, operations="remove keys", remove_keys=["age", "city"])
    assert removed[0] == {"name": "Ada"}
    renamed = operate(run, operations="rename keys",
                      rename_keys=[{"old_key": "name", "new_key": "who"}])  # fmt: skip
    assert renamed[3] == {"who": "Edsger", "age": 72}


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(DslError, match="parameter `operations`"):
        dsl_module.load(chain(("ops", "DataOperations", {"operations": "explode"})))


# --- ListOperations ----------------------------------------------------------------------------


def listed(run: Runner, items: list[Any], **params: Any) -> dict[str, Any]:
    return outputs_of(run, ("list", "ListOperations", {"query": "{env.items}", **params}),
                      {"items": items})  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"operations": "nth", "n": 2}, ["b"]),
        ({"operations": "nth", "n": -1}, ["d"]),
        ({"operations": "nth", "n": 9}, []),
        ({"operations": "head", "n": 2}, ["a", "b"]),
        ({"operations": "topN", "n": 3}, ["a", "b", "c"]),
        ({"operations": "tail", "n": "2"}, ["c", "d"]),
        ({"operations": "head", "n": 0}, []),
        ({"operations": "filter", "filter": {"operator": "≠", "value": "b"}}, ["a", "c", "d"]),
        ({"operations": "sort", "sort_method": "desc"}, ["d", "c", "b", "a"]),
    ],
)
def test_list_operations(run: Runner, params: dict[str, Any], expected: list[Any]) -> None:
    outputs = listed(run, ["a", "b", "c", "d"], **params)
    assert outputs["result"] == expected
    assert outputs["first"] == (expected[0] if expected else None)
    assert outputs["last"] == (expected[-1] if expected else None)


def test_sort_objects_by_keys_and_drop_duplicates(run: Runner) -> None:
    rows = [{"k": 2, "v": "b"}, {"k": 1, "v": "z"}, {"k": 1, "v": "a"}, {"k": 2, "v": "b"}]
    assert listed(run, rows, operations="sort", sort_by="k, v")["result"] == [
        {"k": 1, "v": "a"}, {"k": 1, "v": "z"}, {"k": 2, "v": "b"}, {"k": 2, "v": "b"}]  # fmt: skip
    assert listed(run, rows, operations="drop_duplicates")["result"] == rows[:3]


def test_strict_range_and_non_lists_fail(run: Runner) -> None:
    raw = chain(("list", "ListOperations", {"query": "sys.query", "operations": "head", "n": 1}))
    assert run(raw)[1].error == (
        "ListOperations list: the input of List Operations should be an array."
    )
    raw = chain(("list", "ListOperations", {"query": "sys.files", "operations": "nth", "n": 1,
                                            "strict": "true"}))  # fmt: skip
    assert run(raw)[1].error == (
        "ListOperations list: nth requires n to be within the valid range in strict mode, got 1."
    )


# --- StringTransform ---------------------------------------------------------------------------


def test_split_by_any_delimiter(run: Runner) -> None:
    component = ("s", "StringTransform",
                 {"method": "split", "split_ref": "{sys.query}", "delimiters": [",", ";"]})  # fmt: skip
    assert outputs_of(run, component, query="a,b;c")["result"] == ["a", "b", "c"]


def test_merge_joins_lists_with_the_first_delimiter(run: Runner) -> None:
    component = ("s", "StringTransform", {"method": "merge", "delimiters": [" | "],
                 "script": "Q: {sys.query}; tags: {env.tags}; meta: {env.meta}"})  # fmt: skip
    outputs = outputs_of(run, component, {"tags": ["x", "y"], "meta": {"a": 1}}, "why")
    assert outputs["result"] == 'Q: why; tags: x | y; meta: {"a": 1}'


def test_split_of_a_non_string_fails(run: Runner) -> None:
    raw = chain(
        ("s", "StringTransform", {"method": "split", "split_ref": "sys.conversation_turns"})
    )
    assert run(raw)[1].error == ("StringTransform s: the input variable is not a string: int.")
