"""The agent canvas DSL as RAGFlow 80a16e71 writes it (spec ragflow-more A.2, ragflow-api 8.1).

A DSL made for RAGFlow loads unchanged: every key RAGFlow writes is known here, and keys this
model does not know are kept (``extra="allow"``), so a DSL read and written back keeps them.
Only the shape is checked here; each component's ``params`` are checked by the component
(``ragserve.agent.components``) when a run loads the DSL.

    {"components": {id: {"obj": {"component_name", "params"}, "downstream", "upstream",
                         "parent_id"?}},
     "globals": {"sys.query", "sys.user_id", "sys.conversation_turns", "sys.files", "env.x"…},
     "variables": {name: {"type", "value"}}, "history": [[role, content]…],
     "path": [ids run in the last turn], "retrieval": [{"chunks", "doc_aggs"}…],
     "graph": {"nodes", "edges"} (the UI's layout), "memory", "messages", "task_id"}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BEGIN = "begin"
"""The id of the entry component: RAGFlow reads the prologue and the mode from it."""

DEFAULT_GLOBALS: dict[str, Any] = {
    "sys.query": "",
    "sys.user_id": "",
    "sys.conversation_turns": 0,
    "sys.files": [],
}


class ComponentObject(BaseModel):
    """``obj``: which component and its parameters (merged into the component's defaults)."""

    model_config = ConfigDict(extra="allow")

    component_name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class ComponentNode(BaseModel):
    """One node of the canvas and its edges."""

    model_config = ConfigDict(extra="allow")

    obj: ComponentObject
    downstream: list[str] = Field(default_factory=list)
    upstream: list[str] = Field(default_factory=list)
    parent_id: str | None = Field(
        None, description="The Iteration or Loop this node is a child of."
    )


class VariableDefinition(BaseModel):
    """A conversation variable, seen by components as ``{env.<name>}``."""

    model_config = ConfigDict(extra="allow")

    type: str = "string"
    value: Any = None


class Dsl(BaseModel):
    """A whole canvas: its components and the state a conversation carries between turns."""

    model_config = ConfigDict(extra="allow")

    components: dict[str, ComponentNode]
    globals: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_GLOBALS))
    variables: dict[str, VariableDefinition] = Field(default_factory=dict)
    history: list[list[Any]] = Field(default_factory=list)
    path: list[str] = Field(default_factory=list)
    retrieval: list[dict[str, Any]] = Field(default_factory=list)
    memory: list[Any] = Field(default_factory=list)
    graph: dict[str, Any] | None = None

    def display_name(self, component_id: str) -> str:
        """The name the UI gave the node (``graph.nodes[].data.name``), else its component
        name: what events show as ``component_name``."""
        for node in (self.graph or {}).get("nodes") or []:
            if isinstance(node, dict) and node.get("id") == component_id:
                data = node.get("data")
                if isinstance(data, dict) and isinstance(data.get("name"), str):
                    return str(data["name"])
        found = self.components.get(component_id)
        return found.obj.component_name if found else component_id
