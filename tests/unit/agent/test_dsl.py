"""Loading a DSL: RAGFlow's shape accepted unchanged, every problem named."""

from __future__ import annotations

import pytest

from ragserve.agent import dsl as dsl_module
from ragserve.agent.components import NOT_YET_SUPPORTED
from ragserve.agent.errors import DslError
from unit.agent.conftest import chain, node

# The shape RAGFlow 80a16e71 writes, with the UI's graph and keys ragserve does not read.
RAGFLOW_DSL = {
    "components": {
        "begin": {
            "obj": {"component_name": "Begin", "params": {"mode": "conversational", "prologue": "Hi!",
                                                          "inputs": {}, "outputs": {}}},
            "downstream": ["Retrieval:Quiet"], "upstream": [],
        },
        "Retrieval:Quiet": {
            "obj": {"component_name": "Retrieval", "params": {
                "kb_ids": ["ds-1"], "similarity_threshold": 0.2, "keywords_similarity_weight": 0.7,
                "top_n": 8, "top_k": 1024, "rerank_id": "", "empty_response": "", "use_kg": False,
                "cross_languages": [], "toc_enhance": False, "meta_data_filter": {},
                "outputs": {"formalized_content": {"type": "string", "value": ""}}}},
            "downstream": ["LLM:Calm"], "upstream": ["begin"],
        },
        "LLM:Calm": {
            "obj": {"component_name": "LLM", "params": {
                "llm_id": "deepseek-chat@DeepSeek", "sys_prompt": "Use {Retrieval:Quiet@formalized_content}",
                "prompts": [{"role": "user", "content": "{sys.query}"}], "temperature": 0.1,
                "temperatureEnabled": True, "maxTokensEnabled": False, "max_tokens": 256,
                "cite": True, "exception_method": None, "exception_goto": None, "max_retries": 0,
                "delay_after_error": 1, "outputs": {"content": {"type": "string", "value": ""}}}},
            "downstream": ["Message:Hot"], "upstream": ["Retrieval:Quiet"],
        },
        "Message:Hot": {"obj": {"component_name": "Message", "params": {"content": ["{LLM:Calm@content}"]}},
                        "downstream": [], "upstream": ["LLM:Calm"]},
    },
    "globals": {"sys.query": "", "sys.user_id": "", "sys.conversation_turns": 0, "sys.files": []},
    "variables": {"topic": {"type": "string", "value": "birds"}},
    "history": [], "path": [], "retrieval": [], "memory": [], "messages": [], "task_id": "x",
    "graph": {"nodes": [{"id": "LLM:Calm", "type": "agentNode", "data": {"label": "LLM", "name": "Thinker"}}],
              "edges": []},
}  # fmt: skip


def test_a_ragflow_dsl_loads_unchanged() -> None:
    graph = dsl_module.load(RAGFLOW_DSL)
    assert set(graph.components) == set(RAGFLOW_DSL["components"])
    assert graph.dsl.display_name("LLM:Calm") == "Thinker"
    assert graph.dsl.display_name("Message:Hot") == "Message"
    dumped = graph.dsl.model_dump(mode="json", exclude_unset=True)
    assert dumped == RAGFLOW_DSL
    llm = graph.components["LLM:Calm"]
    assert llm.params.generation_options() == {"temperature": 0.1}  # type: ignore[attr-defined]
    assert llm.streams_to_message  # type: ignore[attr-defined]


def test_a_dsl_given_as_a_string_of_json_is_refused_as_a_shape() -> None:
    with pytest.raises(DslError, match="Invalid DSL"):
        dsl_module.load({"components": "no"})


def test_begin_is_required() -> None:
    with pytest.raises(DslError, match="no `begin` component"):
        dsl_module.load({"components": {"m": node("Message")}})


def test_an_unknown_component_is_named() -> None:
    raw = chain(("Weird:1", "Teleporter", {}))
    with pytest.raises(DslError, match=r"Component `Weird:1`: unknown component `Teleporter`\."):
        dsl_module.load(raw)


def test_a_ragflow_component_not_built_yet_says_so() -> None:
    name = min(NOT_YET_SUPPORTED)  # any of them: the list shrinks as components are built
    with pytest.raises(DslError, match=f"ragserve cannot run `{name}` components yet"):
        dsl_module.load(chain((f"{name}:1", name, {})))


def test_a_bad_parameter_names_component_and_parameter() -> None:
    raw = chain(("LLM:1", "LLM", {"temperature": "hot"}))
    with pytest.raises(DslError) as caught:
        dsl_module.load(raw)
    assert caught.value.message.startswith("Component `LLM:1` (LLM): parameter `temperature`:")
    raw = chain(
        (
            "Switch:1",
            "Switch",
            {"conditions": [{"items": [{"cpn_id": "sys.query", "operator": "like"}]}]},
        )
    )
    with pytest.raises(DslError, match=r"parameter `conditions.0.items.0.operator`"):
        dsl_module.load(raw)


def test_edges_and_references_must_name_components() -> None:
    raw = chain(("m", "Message", {"content": ["x"]}))
    raw["components"]["m"]["downstream"] = ["ghost"]
    with pytest.raises(DslError, match="Component `m`: it leads to `ghost`"):
        dsl_module.load(raw)
    raw = chain(("m", "Message", {"content": ["{LLM:gone@content}"]}))
    with pytest.raises(DslError, match="parameter `content` refers to `LLM:gone@content`"):
        dsl_module.load(raw)
