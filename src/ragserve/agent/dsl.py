"""Loading a DSL for a run: its shape (``schemas.agent_dsl.Dsl``), each component's name and
parameters, and the ids its edges and references name. Every problem is a ``DslError`` that
names the component and the parameter."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ragserve.agent import variables
from ragserve.agent.components import COMPONENTS, NOT_YET_SUPPORTED, Component
from ragserve.agent.components.llm import LLM
from ragserve.agent.errors import DslError
from ragserve.schemas.agent_dsl import BEGIN, Dsl


def _problems(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(the whole value)"
        lines.append(f"`{where}`: {item['msg']}")
    return "; ".join(lines)


def _parameter_problems(component_id: str, name: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(all)"
        lines.append(f"parameter `{where}`: {item['msg']}")
    return f"Component `{component_id}` ({name}): " + "; ".join(lines)


@dataclass
class Graph:
    """A loaded DSL: the model, a component per node, and which nodes run before which."""

    dsl: Dsl
    components: dict[str, Component]
    reaches: dict[str, frozenset[str]] = field(default_factory=dict)
    """For each id, every id reachable from it (through edges and routes)."""

    def before(self, first: str, second: str) -> bool:
        """Whether ``first`` must run before ``second`` when both are due: it leads to
        ``second`` and not the other way round (in a cycle, neither waits)."""
        return second in self.reaches[first] and first not in self.reaches[second]


def _reachability(components: dict[str, Component]) -> dict[str, frozenset[str]]:
    edges = {cid: set(component.targets()) for cid, component in components.items()}
    result: dict[str, frozenset[str]] = {}
    for start in components:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, ()))
        result[start] = frozenset(seen)
    return result


def _check_targets(component_id: str, targets: Iterable[str], known: dict[str, Any]) -> None:
    for target in targets:
        if target not in known:
            raise DslError(
                f"Component `{component_id}`: it leads to `{target}`, which is not a component "
                "of this DSL."
            )


def _adopt(components: dict[str, Component]) -> None:
    """Link each child (``parent_id``) to its Iteration or Loop, which checks its children."""
    for component_id, component in components.items():
        parent_id = component.node.parent_id
        if not parent_id:
            continue
        parent = components.get(parent_id)
        if parent is None:
            raise DslError(
                f"Component `{component_id}`: its parent `{parent_id}` is not a component of "
                "this DSL."
            )
        component.parent = parent
        parent.children.append(component)
    for component in components.values():
        component.check_children()


def load(raw: Any) -> Graph:
    """The DSL checked and its components built; raises ``DslError``. ``raw`` is copied: a
    run changes its graph's DSL, never the caller's."""
    try:
        dsl = Dsl.model_validate(copy.deepcopy(raw))
    except ValidationError as error:
        raise DslError(f"Invalid DSL: {_problems(error)}") from None
    if BEGIN not in dsl.components:
        raise DslError("Invalid DSL: it has no `begin` component.")
    components: dict[str, Component] = {}
    for component_id, node in dsl.components.items():
        name = node.obj.component_name
        cls = COMPONENTS.get(name)
        if cls is None:
            if name in NOT_YET_SUPPORTED:
                raise DslError(
                    f"Component `{component_id}`: ragserve cannot run `{name}` components yet."
                )
            raise DslError(f"Component `{component_id}`: unknown component `{name}`.")
        try:
            params = cls.Params.model_validate(node.obj.params)
        except ValidationError as error:
            raise DslError(_parameter_problems(component_id, name, error)) from None
        components[component_id] = cls(component_id, params, node)
    if components[BEGIN].component_name != "Begin":
        raise DslError("Invalid DSL: the `begin` component must be a Begin.")
    _adopt(components)
    for component_id, component in components.items():
        _check_targets(component_id, component.targets(), components)
        for parameter, reference in component.referenced():
            source = variables.component_of(reference)
            if source is not None and source not in components:
                raise DslError(
                    f"Component `{component_id}`: parameter `{parameter}` refers to "
                    f"`{reference}`, but there is no component `{source}`."
                )
        if isinstance(component, LLM):
            component.streams_to_message = any(
                components[target].component_name == "Message"
                for target in component.node.downstream
            )
    return Graph(dsl, components, _reachability(components))
