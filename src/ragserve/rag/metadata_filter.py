"""Parse and evaluate ``metadata_condition`` filters against document ``meta_fields``.

The filter has RAGFlow's shape, but we give it conventional meaning rather than RAGFlow's
(the differences are listed in docs/compatibility.md):

* ``and`` needs every condition to hold and ``or`` needs at least one. No conditions at all
  match every document.
* A list value in a document matches when any of its elements does.
* Text compares case-insensitively (Unicode case folding, then NFC). Booleans compare as the
  text ``true``/``false``.
* Numbers and numeric strings compare numerically, so ``"5"`` equals ``5``. A numeric value
  never equals or orders against non-numeric text.
* Otherwise two ISO 8601 dates or datetimes compare as points in time, with naive ones taken
  as UTC. Any other text compares by its folded text.
* A missing key counts as empty: ``empty`` matches it and ``not empty`` does not. Every
  negated operator (``not is``, ``≠``, ``not contains``, ``not in``) is exactly the negation
  of its positive operator, so it matches a missing key.
* ``empty`` means missing, null, ``""``, ``[]`` or ``{}``. ``0`` and ``false`` are values.
* ``in`` takes a list or a comma-separated string. Values are never evaluated as code.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from ragserve.errors import ArgumentError

Scalar = str | int | float | bool
_SCALAR_TYPES = (str, int, float, bool)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
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
_NEGATED = {Operator(f"not {op}"): Operator(op) for op in ("is", "contains", "in", "empty")}
_NEGATED[Operator.NE] = Operator.EQ
_ORDERS = {Operator.IS: {0}, Operator.EQ: {0}, Operator.GT: {1}, Operator.LT: {-1}}
_ORDERS |= {Operator.GE: {0, 1}, Operator.LE: {-1, 0}}
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
    if not isinstance(value, _SCALAR_TYPES):
        raise _error(
            where,
            f"value for '{operator}' must be a string, number or boolean, got {_json_type(value)}",
        )
    return Condition(name, operator, value)


def _parse_choices(where: str, operator: Operator, value: object) -> tuple[Scalar, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, _SCALAR_TYPES):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, _SCALAR_TYPES) for v in value):
        return tuple(value)
    raise _error(
        where,
        f"value for '{operator}' must be a list of strings, numbers or booleans, "
        "or a comma-separated string",
    )


def matches(condition: MetadataCondition, meta_fields: Mapping[str, object]) -> bool:
    """Whether a document with these ``meta_fields`` passes the filter."""
    if not condition.conditions:
        return True
    results = (_holds(c, meta_fields.get(c.name)) for c in condition.conditions)
    return all(results) if condition.logic == "and" else any(results)


def filter_documents(
    condition: MetadataCondition, documents: Iterable[tuple[str, Mapping[str, object]]]
) -> list[str]:
    """The ids of the matching documents, in input order."""
    return [doc_id for doc_id, meta in documents if matches(condition, meta)]


def _holds(condition: Condition, actual: object) -> bool:
    positive = _NEGATED.get(condition.operator)
    if positive is not None:
        return not _satisfies(positive, condition.value, actual)
    return _satisfies(condition.operator, condition.value, actual)


def _satisfies(operator: Operator, expected: object, actual: object) -> bool:
    if operator is Operator.EMPTY:
        return actual is None or (isinstance(actual, str | list | tuple | Mapping) and not actual)
    return any(_test(operator, item, expected) for item in _elements(actual))


def _elements(actual: object) -> list[Scalar]:
    if isinstance(actual, list | tuple):
        return [item for item in actual if isinstance(item, _SCALAR_TYPES)]
    return [actual] if isinstance(actual, _SCALAR_TYPES) else []


def _test(operator: Operator, item: Scalar, expected: object) -> bool:
    if operator is Operator.IN:
        return isinstance(expected, tuple) and any(_compare(item, v) == 0 for v in expected)
    if not isinstance(expected, _SCALAR_TYPES):
        return False
    if operator is Operator.CONTAINS:
        return _fold(expected) in _fold(item)
    if operator is Operator.START_WITH:
        return _fold(item).startswith(_fold(expected))
    if operator is Operator.END_WITH:
        return _fold(item).endswith(_fold(expected))
    return _compare(item, expected) in _ORDERS[operator]


def _compare(left: Scalar, right: Scalar) -> int | None:
    """-1, 0 or 1 as ``left`` is below, equal to or above ``right``; None if incomparable."""
    left_num, right_num = _number(left), _number(right)
    if left_num is not None and right_num is not None:
        return (left_num > right_num) - (left_num < right_num)
    if left_num is not None or right_num is not None:
        return None
    left_date, right_date = _date(left), _date(right)
    if left_date is not None and right_date is not None:
        return (left_date > right_date) - (left_date < right_date)
    left_text, right_text = _fold(left), _fold(right)
    return (left_text > right_text) - (left_text < right_text)


def _number(value: Scalar) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    text = str(value) if isinstance(value, float) else value.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _date(value: Scalar) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _fold(value: Scalar) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return unicodedata.normalize("NFC", text.casefold())


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """A short one-line rendering of a client value for an error message."""
    if not isinstance(value, str):
        return _json_type(value)
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _error(where: str, problem: str) -> MetadataConditionError:
    return MetadataConditionError(f"{where}: {problem}")
