"""Switch: goes on with the ``to`` of the first of its ``conditions`` that holds, else with
``end_cpn_ids``. A condition is ``items`` (``{cpn_id, operator, value}``: the value a
reference names, compared with ``value``, itself a template) joined by ``logical_operator``
(``and`` / ``or``). Outputs ``_next``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams, id_list
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError

Operator = Literal[
    "contains",
    "not contains",
    "start with",
    "end with",
    "empty",
    "not empty",
    "=",
    "≠",
    ">",
    "<",
    "≥",
    "≤",
]
ASCII_OPERATORS = {"!=": "≠", ">=": "≥", "<=": "≤", "==": "="}


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")

    cpn_id: str
    operator: Operator
    value: Any = ""

    @field_validator("operator", mode="before")
    @classmethod
    def _ascii(cls, value: Any) -> Any:
        return ASCII_OPERATORS.get(value, value) if isinstance(value, str) else value


class Condition(BaseModel):
    model_config = ConfigDict(extra="allow")

    items: list[Item] = Field(default_factory=list)
    logical_operator: Literal["and", "or"] = "and"
    to: list[str] = Field(default_factory=list)

    @field_validator("to", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        return id_list(value)


class SwitchParams(ComponentParams):
    conditions: list[Condition] = Field(default_factory=list)
    end_cpn_ids: list[str] = Field(default_factory=list)

    @field_validator("end_cpn_ids", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        return id_list(value)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: Any, right: str, test: Callable[[Any, Any], bool]) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return test(a, b)
    return test(variables.as_text(left), right)


def holds(operator: str, left: Any, right: str) -> bool:
    """Whether ``left <operator> right`` (numbers compare as numbers, the rest as text)."""
    text = variables.as_text(left)
    if operator == "contains":
        return right in left if isinstance(left, list) else right in text
    if operator == "not contains":
        return right not in left if isinstance(left, list) else right not in text
    if operator == "start with":
        return text.startswith(right)
    if operator == "end with":
        return text.endswith(right)
    if operator == "empty":
        return not left
    if operator == "not empty":
        return bool(left)
    if operator in ("=", "≠"):
        a, b = _number(left), _number(right)
        equal = a == b if a is not None and b is not None else text == right
        return equal if operator == "=" else not equal
    tests: dict[str, Callable[[Any, Any], bool]] = {
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        "≥": lambda a, b: a >= b,
        "≤": lambda a, b: a <= b,
    }
    return _compare(left, right, tests[operator])


class Switch(Component):
    component_name = "Switch"
    Params = SwitchParams
    routes = True

    @property
    def settings(self) -> SwitchParams:
        assert isinstance(self.params, SwitchParams)
        return self.params

    def targets(self) -> list[str]:
        routed = [target for condition in self.settings.conditions for target in condition.to]
        return [*super().targets(), *routed, *self.settings.end_cpn_ids]

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for condition in self.settings.conditions:
            for item in condition.items:
                reference = variables.bare_reference(item.cpn_id)
                if reference:
                    yield "conditions", reference

    def run(self, context: RunContext) -> dict[str, Any]:
        for condition in self.settings.conditions:
            results = []
            for item in condition.items:
                reference = variables.bare_reference(item.cpn_id)
                if reference is None:
                    raise ComponentError(
                        f"Switch {self.id}: `{item.cpn_id}` is not a variable reference."
                    )
                right = context.render(variables.as_text(item.value))
                results.append(holds(item.operator, context.value(reference), right))
            met = all(results) if condition.logical_operator == "and" else any(results)
            if results and met:
                return {"_next": condition.to}
        return {"_next": self.settings.end_cpn_ids}
