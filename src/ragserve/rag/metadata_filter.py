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

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ragserve.schemas.metadata_condition import (
    SCALAR_TYPES,
    Condition,
    MetadataCondition,
    Operator,
    Scalar,
)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NEGATED = {Operator(f"not {op}"): Operator(op) for op in ("is", "contains", "in", "empty")}
_NEGATED[Operator.NE] = Operator.EQ
_ORDERS = {Operator.IS: {0}, Operator.EQ: {0}, Operator.GT: {1}, Operator.LT: {-1}}
_ORDERS |= {Operator.GE: {0, 1}, Operator.LE: {-1, 0}}


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
        return [item for item in actual if isinstance(item, SCALAR_TYPES)]
    return [actual] if isinstance(actual, SCALAR_TYPES) else []


def _test(operator: Operator, item: Scalar, expected: object) -> bool:
    if operator is Operator.IN:
        return isinstance(expected, tuple) and any(_compare(item, v) == 0 for v in expected)
    if not isinstance(expected, SCALAR_TYPES):
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
