"""The ``metadata_condition`` filter of retrieval, chats and document lists, as a client sends
it: parsed and checked into a ``MetadataCondition`` (``rag.metadata_filter`` evaluates it).

Accepted: RAGFlow's ``logic``/``logical_operator`` and ``conditions`` of ``name``,
``comparison_operator`` and ``value``; Dify's operator spellings too. A malformed condition is
an argument error whose message names the part at fault.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from ragserve.errors import ArgumentError

Scalar = str | int | float | bool
SCALAR_TYPES = (str, int, float, bool)
_LOGICS: dict[str, Literal["and", "or"]] = {"and": "and", "or": "or"}
_JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
_JSON_TYPES |= {dict: "object", type(None): "null"}


class MetadataConditionError(ArgumentError):
    """A malformed ``metadata_condition``. The message names the part at fault."""


class Operator(enum.StrEnum):
    IS = "is"
    NOT_IS = "not is"
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    IN = "in"
    NOT_IN = "not in"
    START_WITH = "start with"
    END_WITH = "end with"
    EMPTY = "empty"
    NOT_EMPTY = "not empty"
    EQ = "="
    NE = "≠"
    GT = ">"
    LT = "<"
    GE = "≥"
    LE = "≤"


_OPERATORS = {op.value: op for op in Operator}
_OPERATORS |= {">=": Operator.GE, "<=": Operator.LE, "!=": Operator.NE}
# Dify's spellings (its external knowledge API): dates compare like any ordered value.
_OPERATORS |= {"is not": Operator.NOT_IS, "before": Operator.LT, "after": Operator.GT}
_OPERATORS |= {"null": Operator.EMPTY, "not null": Operator.NOT_EMPTY}

_VALUELESS = {Operator.EMPTY, Operator.NOT_EMPTY}
_LIST_VALUED = {Operator.IN, Operator.NOT_IN}


@dataclass(frozen=True)
class Condition:
    """One test. ``value`` is a scalar, a tuple of scalars (``in``), or None (``empty``)."""

    name: str
    operator: Operator
    value: object


@dataclass(frozen=True)
class MetadataCondition:
    logic: Literal["and", "or"]
    conditions: tuple[Condition, ...]


def parse_metadata_condition(raw: object) -> MetadataCondition | None:
    """Validate the client's JSON ``metadata_condition``. None means no filter."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _error("metadata_condition", f"must be an object, got {_json_type(raw)}")
    key = "logic" if raw.get("logic") is not None else "logical_operator"
    logic_raw = raw.get(key)
    logic_raw = "and" if logic_raw is None else logic_raw
    logic = _LOGICS.get(logic_raw.strip().casefold()) if isinstance(logic_raw, str) else None
    if logic is None:
        raise _error(f"metadata_condition.{key}", f"must be 'and' or 'or', got {_show(logic_raw)}")
    items = raw.get("conditions")
    items = [] if items is None else items
    if not isinstance(items, list):
        raise _error("metadata_condition.conditions", f"must be a list, got {_json_type(items)}")
    where = "metadata_condition.conditions[{}]"
    return MetadataCondition(
        logic, tuple(_parse_condition(where.format(i), item) for i, item in enumerate(items))
    )


def _parse_condition(where: str, item: object) -> Condition:
    if not isinstance(item, dict):
        raise _error(where, f"must be an object, got {_json_type(item)}")
    name = item.get("name")
    if isinstance(name, list) and len(name) == 1:  # Dify's older docs type it as a list
        name = name[0]
    if not isinstance(name, str) or not name.strip():
        raise _error(where, "name must be a non-empty string")
    if "comparison_operator" not in item:
        raise _error(where, "comparison_operator is required")
    op_raw = item["comparison_operator"]
    if not isinstance(op_raw, str):
        raise _error(where, f"comparison_operator must be a string, got {_json_type(op_raw)}")
    operator = _OPERATORS.get(" ".join(op_raw.split()).casefold())
    if operator is None:
        raise _error(where, f"unknown comparison_operator {_show(op_raw)}")
    if operator in _VALUELESS:
        return Condition(name, operator, None)
    value = item.get("value")
    if value is None:
        raise _error(where, f"value is required for '{operator}'")
    if operator in _LIST_VALUED:
        return Condition(name, operator, _parse_choices(where, operator, value))
    if not isinstance(value, SCALAR_TYPES):
        raise _error(
            where,
            f"value for '{operator}' must be a string, number or boolean, got {_json_type(value)}",
        )
    return Condition(name, operator, value)


def _parse_choices(where: str, operator: Operator, value: object) -> tuple[Scalar, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, SCALAR_TYPES):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, SCALAR_TYPES) for v in value):
        return tuple(value)
    raise _error(
        where,
        f"value for '{operator}' must be a list of strings, numbers or booleans, "
        "or a comma-separated string",
    )


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """A short one-line rendering of a client value for an error message."""
    if not isinstance(value, str):
        return _json_type(value)
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _error(where: str, problem: str) -> MetadataConditionError:
    return MetadataConditionError(f"{where}: {problem}")
