"""Loop, LoopItem and ExitLoop: a while-loop (RAGFlow's ``loop.py``, ``loopitem.py``,
``exit_loop.py``).

The Loop sets its ``loop_variables`` as its outputs (``{Loop:X@<variable>}``; the body
changes them with a VariableAssigner on ``Loop:X@<variable>``). Its children carry
``parent_id``: one LoopItem, where each pass starts, and the body after it; a child without
``downstream`` goes back to the LoopItem. Each time the LoopItem runs it counts a pass; the
loop ends when ``maximum_loop_count`` passes have run, or when the
``loop_termination_condition`` holds (its items joined by ``logical_operator``, checked before
each pass, the first included), or at an ExitLoop. Then the run goes on with the Loop's
``downstream`` and the Loop's ``node_finished`` is sent.

A loop variable is ``{variable, type, input_mode, value}``: ``input_mode`` ``variable`` takes
the value a reference names, ``constant`` the value itself, anything else the type's empty
value. A condition item is ``{variable, operator, value, input_mode}``; the operators depend
on the variable's type (text: contains, not contains, start with, end with, is, is not,
empty, not empty; numbers: =, ≠, >, <, ≥, ≤, empty, not empty; booleans: is, is not; objects:
empty, not empty; lists: contains, not contains, is, is not, empty, not empty).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of, the_child
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError


class LoopVariable(BaseModel):
    model_config = ConfigDict(extra="allow")

    variable: str = Field(min_length=1)
    type: str = "string"
    input_mode: str = "constant"
    value: Any = None


class TerminationItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    variable: str = Field(min_length=1)
    operator: str = Field(min_length=1)
    value: Any = ""
    input_mode: Literal["constant", "variable"] = "constant"


class LoopParams(ComponentParams):
    loop_variables: list[LoopVariable] = Field(default_factory=list)
    loop_termination_condition: list[TerminationItem] = Field(default_factory=list)
    maximum_loop_count: int = Field(0, ge=0)
    logical_operator: Literal["and", "or"] = "and"

    @field_validator("maximum_loop_count", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        return 0 if value in (None, "") else value


def empty_of(kind: str) -> Any:
    kind = kind.lower()
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    if kind.startswith("object"):
        return {}
    if kind.startswith("array"):
        return []
    return ""


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ComponentError(f"`{value}` is not a number.") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def holds(left: Any, operator: str, right: Any) -> bool:
    """Whether ``left <operator> right`` by RAGFlow's rules for ``left``'s type."""
    if isinstance(left, str):
        text = "" if right is None else str(right)
        tests = {
            "contains": lambda: text in left,
            "not contains": lambda: text not in left,
            "start with": lambda: left.startswith(text),
            "end with": lambda: left.endswith(text),
            "is": lambda: left == text,
            "is not": lambda: left != text,
            "empty": lambda: left == "",
            "not empty": lambda: left != "",
        }
    elif isinstance(left, bool):
        tests = {
            "is": lambda: left is _boolean(right),
            "is not": lambda: left is not _boolean(right),
            "empty": lambda: False,
            "not empty": lambda: True,
        }
    elif isinstance(left, int | float):
        tests = {
            "=": lambda: left == _number(right),
            "≠": lambda: left != _number(right),
            ">": lambda: left > _number(right),
            "<": lambda: left < _number(right),
            "≥": lambda: left >= _number(right),
            "≤": lambda: left <= _number(right),
            "empty": lambda: False,
            "not empty": lambda: True,
        }
    elif isinstance(left, dict):
        tests = {"empty": lambda: not left, "not empty": lambda: bool(left)}
    elif isinstance(left, list):
        tests = {
            "contains": lambda: right in left,
            "not contains": lambda: right not in left,
            "is": lambda: left == right,
            "is not": lambda: left != right,
            "empty": lambda: not left,
            "not empty": lambda: bool(left),
        }
    elif left is None:
        return operator == "empty"
    else:
        tests = {}
    operator = {"!=": "≠", ">=": "≥", "<=": "≤", "==": "="}.get(operator, operator)
    test = tests.get(operator)
    if test is None:
        raise ComponentError(f"Invalid operator: {operator}")
    return test()


class Loop(Component):
    component_name = "Loop"
    Params = LoopParams
    finishes_later = True

    @property
    def settings(self) -> LoopParams:
        assert isinstance(self.params, LoopParams)
        return self.params

    def check_children(self) -> None:
        the_child(self, "LoopItem")

    def loop_start(self) -> str:
        return the_child(self, "LoopItem").id

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for variable in self.settings.loop_variables:
            if variable.input_mode == "variable" and isinstance(variable.value, str):
                yield "loop_variables", reference_of(variable.value)
        for item in self.settings.loop_termination_condition:
            yield "loop_termination_condition", reference_of(item.variable)

    def run(self, context: RunContext) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for variable in self.settings.loop_variables:
            if variable.input_mode == "variable":
                outputs[variable.variable] = context.value(reference_of(str(variable.value)))
            elif variable.input_mode == "constant":
                outputs[variable.variable] = variable.value
            else:
                outputs[variable.variable] = empty_of(variable.type)
        context.loops[self.loop_start()] = {"index": 0, "ended": False}
        return outputs

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str]:
        return [self.loop_start()]

    def should_end(self, context: RunContext) -> bool:
        conditions = self.settings.loop_termination_condition
        if not conditions:
            return False
        results = []
        for item in conditions:
            left = context.value(reference_of(item.variable))
            right = item.value
            if item.input_mode == "variable":
                right = context.value(reference_of(str(item.value)))
            results.append(holds(left, item.operator, right))
        return all(results) if self.settings.logical_operator == "and" else any(results)


class LoopItem(Component):
    component_name = "LoopItem"

    def _state(self, context: RunContext) -> dict[str, Any]:
        state: dict[str, Any] = context.loops.setdefault(self.id, {"index": 0, "ended": False})
        return state

    def run(self, context: RunContext) -> dict[str, Any]:
        parent = self.parent
        if not isinstance(parent, Loop):
            raise ComponentError(f"LoopItem {self.id}: its parent must be a Loop.")
        state = self._state(context)
        index = int(state["index"])
        if index >= parent.settings.maximum_loop_count or parent.should_end(context):
            state.update(index=0, ended=True)
            return {"index": index}
        state.update(index=index + 1, ended=False)
        return {"index": index}

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str]:
        if self.ends_parent(context):
            return list(self.parent.node.downstream) if self.parent else []
        return list(self.node.downstream) or [self.id]

    def ends_parent(self, context: RunContext) -> bool:
        return bool(self._state(context).get("ended"))


class ExitLoop(Component):
    component_name = "ExitLoop"

    def run(self, context: RunContext) -> dict[str, Any]:
        if not isinstance(self.parent, Loop):
            raise ComponentError(f"ExitLoop {self.id}: it must be inside a Loop (`parent_id`).")
        context.loops[self.parent.loop_start()] = {"index": 0, "ended": False}
        return {}

    def next_ids(self, context: RunContext, outputs: dict[str, Any]) -> list[str]:
        return list(self.parent.node.downstream) if self.parent else []

    def ends_parent(self, context: RunContext) -> bool:
        return True
