"""Iteration and IterationItem: a for-each over a list (RAGFlow's ``iteration.py`` and
``iterationitem.py``).

The Iteration names the list with ``items_ref`` (a reference, with or without braces:
``sys.files``, ``Agent:X@structured.items``). Its children carry ``parent_id``: one
IterationItem, where each pass starts, and the body after it. The run goes from the
Iteration to its IterationItem, which outputs the next ``item`` (also as ``result``) and its
``index`` and goes on with its ``downstream``; a child without ``downstream`` goes back to
the IterationItem. When the list is done the run goes on with the Iteration's ``downstream``
and the Iteration's ``node_finished`` is sent.

The Iteration's outputs are collected from the passes: each entry of its ``outputs`` with a
``ref`` (``{"ref": "<child id>@<output>"}``) becomes the list of that output, one per item.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError, DslError


class IterationParams(ComponentParams):
    items_ref: str = ""


def reference_of(text: str) -> str:
    """A parameter holding one reference, with or without braces, as a reference name."""
    return variables.bare_reference(text) or text.strip()


def collected_refs(params: ComponentParams) -> dict[str, str]:
    """``{output name: reference}`` for the outputs collected from the children."""
    refs: dict[str, str] = {}
    for name, output in params.outputs.items():
        if isinstance(output, dict) and isinstance(output.get("ref"), str) and output["ref"]:
            refs[name] = reference_of(output["ref"])
    return refs


def items_of(context: RunContext, owner: str, items_ref: str) -> list[Any]:
    value = context.value(reference_of(items_ref))
    if isinstance(value, str):  # JSON text of a list is a list
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if not isinstance(value, list):
        kind = "null" if value is None else type(value).__name__
        raise ComponentError(f"{owner}: {items_ref} must be an array, but its type is {kind}.")
    return value


def the_child(parent: Component, name: str) -> Component:
    items = [child for child in parent.children if child.component_name == name]
    if len(items) != 1:
        raise DslError(
            f"Component `{parent.id}` ({parent.component_name}): it needs one {name} child "
            f"(a node with `parent_id: {parent.id}`), it has {len(items)}."
        )
    return items[0]


class Iteration(Component):
    component_name = "Iteration"
    Params = IterationParams
    finishes_later = True
    item_name: ClassVar[str] = "IterationItem"

    @property
    def settings(self) -> IterationParams:
        assert isinstance(self.params, IterationParams)
        return self.params

    def check_children(self) -> None:
        the_child(self, self.item_name)
        if not self.settings.items_ref.strip():
            raise DslError(f"Component `{self.id}` (Iteration): parameter `items_ref` is empty.")

    def loop_start(self) -> str:
        return the_child(self, self.item_name).id

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        yield "items_ref", reference_of(self.settings.items_ref)
        for reference in collected_refs(self.params).values():
            yield "outputs", reference

    def run(self, context: RunContext) -> dict[str, Any]:
        items_of(context, f"Iteration {self.id}", self.settings.items_ref)
        context.loops[self.loop_start()] = {"index": 0, "ended": False}
        return {name: [] for name in collected_refs(self.params)}

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str]:
        return [self.loop_start()]


class IterationItem(Component):
    component_name = "IterationItem"

    def _state(self, context: RunContext) -> dict[str, Any]:
        state: dict[str, Any] = context.loops.setdefault(self.id, {"index": 0, "ended": False})
        return state

    def run(self, context: RunContext) -> dict[str, Any]:
        parent = self.parent
        if not isinstance(parent, Iteration):
            raise ComponentError(f"IterationItem {self.id}: its parent must be an Iteration.")
        items = items_of(context, f"IterationItem {self.id}", parent.settings.items_ref)
        state = self._state(context)
        index = int(state["index"])
        if index > 0:
            self._collect(context, parent)
        if index >= len(items):
            state.update(index=0, ended=True)
            previous = context.state.outputs.get(self.id, {})
            return {key: value for key, value in previous.items() if not key.startswith("_")}
        state.update(index=index + 1, ended=False)
        return {"item": items[index], "result": items[index], "index": index}

    def _collect(self, context: RunContext, parent: Iteration) -> None:
        """Append this pass's value of each collected output to the Iteration's outputs."""
        collected = context.state.outputs.setdefault(parent.id, {})
        for name, reference in collected_refs(parent.params).items():
            values = collected.get(name)
            values = values if isinstance(values, list) else []
            values.append(context.value(reference))
            collected[name] = values

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str]:
        if self.ends_parent(context):
            return list(self.parent.node.downstream) if self.parent else []
        return list(self.node.downstream) or [self.id]

    def ends_parent(self, context: RunContext) -> bool:
        return bool(self._state(context).get("ended"))
