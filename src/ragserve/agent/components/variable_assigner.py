"""VariableAssigner: changes conversation variables (``env.<name>``), which last for the
rest of the conversation, or a component's output (``<id>@<output>``: a Loop's variables).
Each entry of ``variables`` is ``{variable, operator, parameter}``: ``variable`` names what
changes (with or without braces), ``parameter`` is a reference or a literal. Operators:
overwrite, clear, set, append, extend, remove_first, remove_last, ``+=``, ``-=``, ``*=``,
``/=``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

Operator = Literal[
    "overwrite",
    "clear",
    "set",
    "append",
    "extend",
    "remove_first",
    "remove_last",
    "+=",
    "-=",
    "*=",
    "/=",
]


class Assignment(BaseModel):
    model_config = ConfigDict(extra="allow")

    variable: str
    operator: Operator = "overwrite"
    parameter: Any = None


class VariableAssignerParams(ComponentParams):
    variables: list[Assignment] = Field(default_factory=list)


def _cleared(value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    return ""


def assigned(operator: str, current: Any, given: Any, owner: str) -> Any:
    """The variable's new value."""
    if operator in ("overwrite", "set"):
        return given
    if operator == "clear":
        return _cleared(current)
    if operator in ("append", "extend", "remove_first", "remove_last"):
        items = list(current) if isinstance(current, list) else []
        if operator == "append":
            return [*items, given]
        if operator == "extend":
            return [*items, *(given if isinstance(given, list) else [given])]
        return items[1:] if operator == "remove_first" else items[:-1]
    try:
        left, right = float(current or 0), float(given)
    except (TypeError, ValueError):
        raise ComponentError(f"{owner}: `{operator}` needs numbers.") from None
    if operator == "/=" and right == 0:
        raise ComponentError(f"{owner}: division by zero.")
    result = {"+=": left + right, "-=": left - right, "*=": left * right}.get(operator)
    if result is None:
        result = left / right
    return int(result) if result.is_integer() and not isinstance(current, float) else result


class VariableAssigner(Component):
    component_name = "VariableAssigner"
    Params = VariableAssignerParams

    def run(self, context: RunContext) -> dict[str, Any]:
        params = self.params
        assert isinstance(params, VariableAssignerParams)
        owner = f"VariableAssigner {self.id}"
        changed: dict[str, Any] = {}
        for assignment in params.variables:
            name = variables.bare_reference(assignment.variable) or assignment.variable
            key, path = variables.split(name)
            if path or not (key.startswith("env.") or "@" in key):
                raise ComponentError(
                    f"{owner}: `{assignment.variable}` is not a conversation variable (env.*) "
                    "or a component's output (<component id>@<output>, a Loop's variable)."
                )
            given = assignment.parameter
            if isinstance(given, str):
                reference = variables.bare_reference(given)
                given = context.value(reference) if reference else context.render(given)
            value = assigned(assignment.operator, context.value(key), given, owner)
            if key.startswith("env."):
                context.state.globals[key] = value
            else:
                component, _, output = key.partition("@")
                context.state.outputs.setdefault(component, {})[output] = value
            changed[key] = value
        return changed
