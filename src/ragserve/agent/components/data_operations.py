"""DataOperations (RAGFlow's ``data_operations.py``): operations on objects. ``inputs`` are
references to objects or lists of objects (other values are skipped); ``operations`` is one of:

* ``select keys``: each object with only ``select_keys``;
* ``literal eval``: text that holds a Python/JSON literal (``{…}``, ``[…]``, numbers, true,
  false, none) becomes its value, inside every object;
* ``combine``: one object of all keys; a key met again collects its values in a list;
* ``filter values``: the objects for which every rule of ``filter_values``
  (``{key, operator, value}``; equals, not equals, contains, starts with, ends with, on the
  values as text) holds;
* ``append or update``: each object with ``updates`` (``{key, value}``) set;
* ``remove keys``: each object without ``remove_keys``;
* ``rename keys``: each object with ``rename_keys`` (``{old_key, new_key}``) renamed.

The output ``result`` is the list of objects (one object for ``combine``). Operation names
may also be written with underscores (``select_keys``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, field_validator

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext

Operation = Literal[
    "select keys",
    "literal eval",
    "combine",
    "filter values",
    "append or update",
    "remove keys",
    "rename keys",
]


class DataOperationsParams(ComponentParams):
    inputs: list[str] = Field(default_factory=list)  # references to objects or lists of them
    operations: Operation = "literal eval"
    select_keys: list[str] = Field(default_factory=list)
    filter_values: list[dict[str, Any]] = Field(default_factory=list)
    updates: list[dict[str, Any]] = Field(default_factory=list)
    remove_keys: list[str] = Field(default_factory=list)
    rename_keys: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("inputs", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("operations", mode="before")
    @classmethod
    def _spaces(cls, value: Any) -> Any:
        return value.replace("_", " ").strip().lower() if isinstance(value, str) else value


def _evaluated(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _evaluated(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_evaluated(item) for item in data]
    if isinstance(data, str):
        text = data.strip()
        lowered = text.lower()
        if lowered in ("true", "false", "none", "null"):
            return {"true": True, "false": False}.get(lowered)
        if text.startswith(("{", "[", "(", "'", '"')) or text.replace(".", "", 1).isdigit():
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return data
    return data


def _combined(objects: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for obj in objects:
        for key, value in obj.items():
            if key not in result:
                result[key] = value
            elif isinstance(result[key], list):
                result[key] = [*result[key], *(value if isinstance(value, list) else [value])]
            else:
                result[key] = [result[key], *(value if isinstance(value, list) else [value])]
    return result


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def matches(obj: dict[str, Any], rule: dict[str, Any]) -> bool:
    key = rule.get("key")
    if key not in obj:
        return False
    operator = str(rule.get("operator") or "equals").lower()
    value, target = _text(obj.get(key)), _text(rule.get("value"))
    tests = {
        "equals": value == target,
        "not equals": value != target,
        "contains": target in value,
        "starts with": value.startswith(target),
        "ends with": value.endswith(target),
    }
    return tests.get(operator, False)


def _renamed(obj: dict[str, Any], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    renamed = dict(obj)
    for pair in pairs:
        old = str(pair.get("old_key") or "").strip()
        new = str(pair.get("new_key") or "").strip()
        if old and new and old != new and old in renamed:
            renamed[new] = renamed.pop(old)
    return renamed


def operated(params: DataOperationsParams, objects: list[dict[str, Any]]) -> Any:
    """The ``result`` of ``params.operations`` on ``objects``."""
    operation = params.operations
    if operation == "select keys":
        keys = set(params.select_keys)
        return [{k: v for k, v in obj.items() if k in keys} for obj in objects]
    if operation == "literal eval":
        return _evaluated(objects)
    if operation == "combine":
        return _combined(objects)
    if operation == "filter values":
        return [o for o in objects if all(matches(o, r) for r in params.filter_values)]
    if operation == "append or update":
        updates = {
            str(item.get("key") or "").strip(): item.get("value")
            for item in params.updates
            if str(item.get("key") or "").strip()
        }
        return [{**obj, **updates} for obj in objects]
    if operation == "remove keys":
        drop = set(params.remove_keys)
        return [{k: v for k, v in obj.items() if k not in drop} for obj in objects]
    return [_renamed(obj, params.rename_keys) for obj in objects]


class DataOperations(Component):
    component_name = "DataOperations"
    Params = DataOperationsParams

    @property
    def settings(self) -> DataOperationsParams:
        assert isinstance(self.params, DataOperationsParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        for reference in self.settings.inputs:
            yield "inputs", reference_of(reference)

    def run(self, context: RunContext) -> dict[str, Any]:
        objects: list[dict[str, Any]] = []
        for reference in self.settings.inputs:
            value = context.value(reference_of(reference))
            if isinstance(value, dict):
                objects.append(value)
            elif isinstance(value, list):
                objects.extend(item for item in value if isinstance(item, dict))
        return {"result": operated(self.settings, objects)}
