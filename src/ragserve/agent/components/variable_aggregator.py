"""VariableAggregator: merges branches (RAGFlow's ``varaiable_aggregator.py``). For each of
its ``groups`` (``{group_name, variables}``), the output named ``group_name`` is the first of
the group's ``variables`` (references: ``{"value": "<ref>"}`` or the text of one) whose value
is not empty; nothing when all are empty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext


class Group(BaseModel):
    model_config = ConfigDict(extra="allow")

    group_name: str = Field(min_length=1)
    variables: list[str] = Field(min_length=1)

    @field_validator("variables", mode="before")
    @classmethod
    def _references(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [item.get("value", "") if isinstance(item, dict) else item for item in value]


class VariableAggregatorParams(ComponentParams):
    groups: list[Group] = Field(min_length=1)


class VariableAggregator(Component):
    component_name = "VariableAggregator"
    Params = VariableAggregatorParams

    @property
    def settings(self) -> VariableAggregatorParams:
        assert isinstance(self.params, VariableAggregatorParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for group in self.settings.groups:
            for variable in group.variables:
                yield "groups", reference_of(variable)

    def run(self, context: RunContext) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for group in self.settings.groups:
            for variable in group.variables:
                value = context.value(reference_of(variable))
                if value:
                    outputs[group.group_name] = value
                    break
            else:
                outputs[group.group_name] = None
        return outputs
