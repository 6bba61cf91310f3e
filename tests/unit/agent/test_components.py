"""One test group per component (each run inside a small DSL, as the runner runs it)."""

from __future__ import annotations

import pytest

from ragserve.agent.components.categorize import chosen
from ragserve.agent.components.switch import holds
from ragserve.agent.components.variable_assigner import assigned
from ragserve.agent.context import chunk_key
from ragserve.agent.errors import ComponentError
from unit.agent.conftest import Environment, Runner, chain, node, said

# --- Begin -------------------------------------------------------------------------------------


def test_begin_takes_bare_values_and_defaults(run: Runner) -> None:
    raw = chain(("m", "Message", {"content": ["{begin@a}/{begin@b}"]}))
    raw["components"]["begin"]["obj"]["params"] = {
        "inputs": {"a": {"type": "line"}, "b": {"type": "integer", "value": 3}}
    }
    assert said(run(raw, inputs={"a": "x"})[0]) == "x/3"


# --- Message -----------------------------------------------------------------------------------


def test_message_picks_one_template_and_reads_paths(run: Runner) -> None:
    raw = chain(("m", "Message", {"content": ["A {sys.files.0.name}", "A {sys.files.0.name}"]}))
    assert said(run(raw, files=[{"name": "f.pdf"}])[0]) == "A f.pdf"


def test_message_status_goes_to_message_end(run: Runner) -> None:
    events, _ = run(chain(("m", "Message", {"content": "ok", "status": 201})))
    assert next(e for e in events if e.event == "message_end").data == {"status": 201}


# --- LLM ---------------------------------------------------------------------------------------


def test_llm_without_message_gives_whole_text(run: Runner, fake) -> None:  # type: ignore[no-untyped-def]
    raw = chain(
        ("llm", "LLM", {"prompts": [{"role": "user", "content": "Q: {sys.query}"}], "max_tokens": 9,
                        "maxTokensEnabled": True, "temperature": 0.5, "temperatureEnabled": False}),
        ("set", "VariableAssigner", {"variables": [{"variable": "env.out", "parameter": "llm@content"}]}),
        ("m", "Message", {"content": ["{env.out}"]}),
    )  # fmt: skip
    events, _ = run(raw, "x")
    assert said(events) == "Fake answer to: Q: x"
    sent = fake.requests[-1].body
    assert sent["max_tokens"] == 9
    assert "temperature" not in sent


def test_llm_sees_the_history(run: Runner, fake, environment: Environment) -> None:  # type: ignore[no-untyped-def]
    from ragserve.agent import dsl as dsl_module
    from ragserve.agent.runner import Run, RunCall

    raw = chain(
        ("llm", "LLM", {"sys_prompt": "S"}), ("m", "Message", {"content": ["{llm@content}"]})
    )
    _, first = run(raw, "one")
    list(Run(dsl_module.load(first.dsl()), environment, RunCall(query="two")).events())
    roles = [(m["role"], m["content"]) for m in fake.requests[-1].body["messages"]]
    assert roles == [
        ("system", "S"),
        ("user", "one"),
        ("assistant", "Fake answer to: one"),
        ("user", "two"),
    ]


def test_llm_structured_output(run: Runner) -> None:
    raw = chain(("llm", "LLM", {"output_structure": {"type": "object"}}),
                ("m", "Message", {"content": ["{llm@structured.answer}"]}))  # fmt: skip
    assert said(run(raw)[0]) == "42"


def test_llm_model_failure_is_a_component_error(run: Runner, environment: Environment) -> None:
    environment.base_url = "http://127.0.0.1:9/v1"  # nothing listens
    raw = chain(("llm", "LLM", {}), ("m", "Message", {"content": ["{llm@content}"]}))
    events, turn = run(raw)
    assert turn.error is not None and turn.error.startswith("Chat model")
    assert said(events).startswith("**ERROR**: Chat model")


# --- Retrieval ---------------------------------------------------------------------------------


def test_retrieval_adds_references_and_llm_cites(run: Runner, environment: Environment) -> None:
    raw = chain(
        ("search", "Retrieval", {"kb_ids": ["{begin@kb}"], "top_n": 1, "keywords_similarity_weight": 0.7}),
        ("llm", "LLM", {"sys_prompt": "Passages: {search@formalized_content}"}),
        ("m", "Message", {"content": ["{llm@content}"]}),
    )  # fmt: skip
    raw["components"]["begin"]["obj"]["params"] = {
        "inputs": {"kb": {"type": "line", "value": "ds-1"}}
    }
    events, turn = run(raw, "do cranes migrate")
    query = environment.queries[0]
    assert query.dataset_ids == ("ds-1",) and query.top_n == 1
    assert query.vector_similarity_weight == pytest.approx(0.3)
    key = str(chunk_key("chunk-cranes"))
    assert said(events) == "Cranes migrate [ID:0] in autumn."
    end = next(e for e in events if e.event == "message_end").data
    assert set(end["reference"]["chunks"]) == {key}
    assert end["reference"]["doc_aggs"] == {
        "cranes.md": {"doc_name": "cranes.md", "doc_id": "doc-1", "count": 1}
    }
    assert turn.reference["chunks"][key]["id"] == "chunk-cranes"
    assert f"ID: {key}\nDocument: cranes.md" in turn.dsl()["components"]["search"]["obj"]["params"][
        "outputs"]["formalized_content"]["value"]  # fmt: skip


def test_retrieval_empty_response(run: Runner) -> None:
    raw = chain(("search", "Retrieval", {"kb_ids": ["ds-1"], "empty_response": "Nothing found."}),
                ("m", "Message", {"content": ["{search@formalized_content}"]}))  # fmt: skip
    events, turn = run(raw, "quantum chromodynamics")
    assert said(events) == "Nothing found."
    assert turn.reference == {}


def test_message_keeps_the_turn_in_its_memories(run: Runner, environment: Environment) -> None:
    raw = chain(
        ("m", "Message", {"content": ["You said {sys.query}"], "memory_ids": ["mem-1", ""]})
    )
    events, _turn = run(raw, "my dog is Rex")
    assert said(events) == "You said my dog is Rex"
    assert environment.remembered == [(("mem-1",), "my dog is Rex", "You said my dog is Rex")]
    run(chain(("m", "Message", {"content": ["Hi"]})), "no memory")
    assert len(environment.remembered) == 1


def test_retrieval_reads_memories_after_the_passages(run: Runner, environment: Environment) -> None:
    environment.remembered.append((("mem-1",), "cranes are my favourite", "Noted."))
    raw = chain(
        ("search", "Retrieval", {"kb_ids": ["ds-1"], "memory_ids": "mem-1", "top_n": 2}),
        ("m", "Message", {"content": ["{search@formalized_content}"]}),
    )
    events, _turn = run(raw, "cranes")
    [query] = environment.memory_queries
    assert query.memory_ids == ("mem-1",) and query.keywords_similarity_weight == 0.5
    assert query.top_n == 2 and query.similarity_threshold == 0.2
    text = said(events)
    assert text.startswith("ID: ") and "Document: cranes.md" in text
    assert text.endswith("\n\nMemory: User Input: cranes are my favourite\nAgent Response: Noted.")
    memories_only = chain(
        ("search", "Retrieval", {"memory_ids": ["mem-1"], "empty_response": "Nothing."}),
        ("m", "Message", {"content": ["{search@formalized_content}"]}),
    )
    events, turn = run(memories_only, "favourite cranes")
    assert said(events) == "Memory: User Input: cranes are my favourite\nAgent Response: Noted."
    assert turn.reference == {}
    events, _turn = run(memories_only, "quantum")
    assert said(events) == "Nothing."


# --- Categorize --------------------------------------------------------------------------------


def test_categorize_routes_to_the_category(run: Runner) -> None:
    raw = {
        "components": {
            "begin": node("Begin", {}, ["sort"]),
            "sort": node("Categorize", {"category_description": {
                "birds": {"description": "Questions about birds", "examples": "cranes\nherons", "to": "b"},
                "bread": {"description": "Baking", "to": ["c"]}}}, ["b", "c"]),
            "b": node("Message", {"content": ["birds: {sort@category_name}"]}),
            "c": node("Message", {"content": ["bread: {sort@category_name}"]}),
        }
    }  # fmt: skip
    assert said(run(raw, "how to bake bread")[0]) == "bread: bread"
    assert said(run(raw, "cranes?")[0]) == "birds: birds"


def test_categorize_choice() -> None:
    assert chosen("It is about Bread.", ["birds", "bread"]) == "bread"
    assert chosen("no idea", ["birds", "other"]) == "other"
    assert chosen("bread and birds", ["birds", "bread"]) == "bread"


# --- Switch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        ("contains", "bread roll", "roll", True),
        ("contains", ["a", "b"], "b", True),
        ("not contains", "bread", "x", True),
        ("start with", "bread", "br", True),
        ("end with", "bread", "ad", True),
        ("empty", "", "", True),
        ("empty", [], "", True),
        ("not empty", "x", "", True),
        ("=", 3, "3.0", True),
        ("=", "a", "b", False),
        ("≠", "a", "b", True),
        (">", 10, "9", True),
        ("<", "10", "9", False),
        ("≥", 3, "3", True),
        ("≤", "b", "a", False),
    ],
)
def test_switch_operators(operator: str, left: object, right: str, expected: bool) -> None:
    assert holds(operator, left, right) is expected


def test_switch_or_and_else(run: Runner) -> None:
    raw = {
        "components": {
            "begin": node("Begin", {}, ["s"]),
            "s": node("Switch", {"conditions": [{"logical_operator": "or", "to": ["yes"], "items": [
                {"cpn_id": "{sys.query}", "operator": "=", "value": "a"},
                {"cpn_id": "sys.query", "operator": ">=", "value": "5"}]}], "end_cpn_ids": "no"}),
            "yes": node("Message", {"content": ["yes"]}),
            "no": node("Message", {"content": ["no"]}),
        }
    }  # fmt: skip
    assert said(run(raw, "a")[0]) == "yes"
    assert said(run(raw, "7")[0]) == "yes"
    assert said(run(raw, "3")[0]) == "no"


# --- VariableAssigner --------------------------------------------------------------------------


def test_variable_assigner_operators() -> None:
    assert assigned("append", [1], 2, "o") == [1, 2]
    assert assigned("extend", [1], [2, 3], "o") == [1, 2, 3]
    assert assigned("remove_first", [1, 2], None, "o") == [2]
    assert assigned("remove_last", [1, 2], None, "o") == [1]
    assert assigned("clear", [1], None, "o") == []
    assert assigned("+=", 2, "3", "o") == 5
    assert assigned("/=", 3.0, 2, "o") == 1.5
    with pytest.raises(ComponentError, match="division by zero"):
        assigned("/=", 1, 0, "o")
    with pytest.raises(ComponentError, match="needs numbers"):
        assigned("*=", "x", 2, "o")


def test_variable_assigner_changes_conversation_variables(run: Runner) -> None:
    raw = chain(
        ("v", "VariableAssigner", {"variables": [
            {"variable": "{env.count}", "operator": "+=", "parameter": "2"},
            {"variable": "env.seen", "operator": "append", "parameter": "sys.query"}]}),
        ("m", "Message", {"content": ["{env.count} {env.seen}"]}),
    )  # fmt: skip
    raw["variables"] = {
        "count": {"type": "number", "value": 1},
        "seen": {"type": "array", "value": []},
    }
    events, turn = run(raw, "hi")
    assert said(events) == '3 ["hi"]'
    assert turn.dsl()["globals"]["env.count"] == 3


def test_variable_assigner_refuses_other_names(run: Runner) -> None:
    raw = chain(
        ("v", "VariableAssigner", {"variables": [{"variable": "sys.query", "parameter": "x"}]})
    )
    assert (
        run(raw)[1].error
        == "VariableAssigner v: `sys.query` is not a conversation variable (env.*) or a "
        "component's output (<component id>@<output>, a Loop's variable)."
    )
