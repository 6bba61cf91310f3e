"""ListOperations (RAGFlow's ``list_operations.py``): operations on the list ``query`` names.
``operations``: ``nth`` (the ``n``-th item, from 1; negative from the end), ``head`` (the first
``n``; ``topN`` is the same), ``tail`` (the last ``n``), ``filter`` (the items whose text
compares with ``filter: {operator, value}``: =, ≠, contains, start with, end with), ``sort``
(``sort_method`` asc/desc; objects by the keys of ``sort_by``, comma-separated) and
``drop_duplicates``. With ``strict``, an ``n`` out of range fails instead of giving nothing.
Outputs ``result`` (a list), ``first`` and ``last`` (its ends, null when empty)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, field_validator

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.components.iteration import reference_of
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError


class ListOperationsParams(ComponentParams):
    query: str = Field(min_length=1)
    operations: Literal["nth", "head", "tail", "filter", "sort", "drop_duplicates"] = "nth"
    n: int = 0
    strict: bool = False
    sort_method: Literal["asc", "desc"] = "asc"
    sort_by: str = ""
    filter: dict[str, Any] = Field(default_factory=lambda: {"operator": "=", "value": ""})

    @field_validator("operations", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if value is None or value == "":
            return "nth"
        if isinstance(value, str):
            value = value.strip()
            return "head" if value.lower() == "topn" else value
        return value

    @field_validator("n", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    @field_validator("strict", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)


def hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    return value


def _holds(text: str, operator: str, value: str) -> bool:
    tests = {
        "=": text == value,
        "≠": text != value,
        "!=": text != value,
        "contains": value in text,
        "start with": text.startswith(value),
        "end with": text.endswith(value),
    }
    return tests.get(operator, False)


class ListOperations(Component):
    component_name = "ListOperations"
    Params = ListOperationsParams

    @property
    def settings(self) -> ListOperationsParams:
        assert isinstance(self.params, ListOperationsParams)
        return self.params

    def referenced(self) -> Iterator[tuple[str, str]]:
        yield from super().referenced()
        yield "query", reference_of(self.settings.query)

    def _out_of_range(self, operation: str) -> ComponentError:
        return ComponentError(
            f"ListOperations {self.id}: {operation} requires n to be within the valid range in "
            f"strict mode, got {self.settings.n}."
        )

    def run(self, context: RunContext) -> dict[str, Any]:
        items = context.value(reference_of(self.settings.query))
        if not isinstance(items, list):
            raise ComponentError(
                f"ListOperations {self.id}: the input of List Operations should be an array."
            )
        result = self._operated(items)
        return {
            "result": result,
            "first": result[0] if result else None,
            "last": result[-1] if result else None,
        }

    def _operated(self, items: list[Any]) -> list[Any]:
        settings = self.settings
        operation, n = settings.operations, settings.n
        if operation == "nth":
            if n != 0 and abs(n) <= len(items):
                return [items[n - 1 if n > 0 else n]]
            if settings.strict:
                raise self._out_of_range(operation)
            return []
        if operation in ("head", "tail"):
            if settings.strict and not 1 <= n <= len(items):
                raise self._out_of_range(operation)
            if n < 1:
                return []
            return items[:n] if operation == "head" else items[-n:]
        if operation == "filter":
            operator = str(settings.filter.get("operator") or "=")
            value = str(settings.filter.get("value") or "")
            return [i for i in items if _holds("" if i is None else str(i), operator, value)]
        if operation == "sort":
            return self._sorted(items)
        seen: set[Any] = set()
        unique = []
        for item in items:
            key = hashable(item)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique

    def _sorted(self, items: list[Any]) -> list[Any]:
        reverse = self.settings.sort_method == "desc"
        keys = [k.strip() for k in self.settings.sort_by.split(",") if k.strip()]
        try:
            if items and isinstance(items[0], dict):
                if keys:
                    return sorted(
                        items, key=lambda x: tuple(x.get(k) for k in keys), reverse=reverse
                    )
                return sorted(items, key=hashable, reverse=reverse)
            return sorted(items, reverse=reverse)
        except TypeError as error:
            raise ComponentError(f"ListOperations {self.id}: cannot sort: {error}.") from None
