"""The rules of a JSON value that can always be answered (schemas.json_values) and the
database's reading of stored values through them (db.engine.read_json)."""

from __future__ import annotations

import json

import pytest

from ragserve.db.engine import read_json
from ragserve.schemas.json_values import (
    LONE_SURROGATE,
    MAX_DEPTH,
    TOO_DEEP,
    is_too_deep,
    may_hold_surrogates,
    problems,
    readable,
)


def nested(depth: int) -> str:
    """A JSON list ``depth`` levels deep."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        (nested(MAX_DEPTH), False),
        (nested(MAX_DEPTH + 1), True),
        (json.dumps({"a": "[" * 200, "b": [{"c": "]]]}"}]}), False),  # brackets in strings
        (json.dumps([{"n": n} for n in range(500)]), False),  # many brackets, shallow
        (json.dumps({"q": '\\"[[' * 100}), False),  # escaped quotes inside strings
    ],
)
def test_is_too_deep_counts_levels_not_brackets(text: str, deep: bool) -> None:
    assert is_too_deep(text) is deep
    assert any(problem[1] == TOO_DEEP for problem in problems(json.loads(text))) is deep


def test_problems_name_where_each_one_is() -> None:
    value = json.loads('{"a": ["ok", "x\\ud800"], "\\udfffk": 1, "b": {"c": "\\udc00"}}')
    assert [(path, what) for path, what, _ in problems(value)] == [
        ((), LONE_SURROGATE),  # the key, at the object holding it
        (("a", 1), LONE_SURROGATE),
        (("b", "c"), LONE_SURROGATE),
    ]


def test_a_surrogate_pair_is_no_problem() -> None:
    value = json.loads('"\\ud83e\\udd89"')
    assert may_hold_surrogates('"\\ud83e\\udd89"')  # a cheap test may say "maybe"
    assert list(problems(value)) == []


def test_read_json_replaces_only_the_bad_parts() -> None:
    stored = '{"fine": [1, "two"], "bad": "owl \\ud800", "\\udfff": true, "deep": '
    value = read_json(stored + nested(MAX_DEPTH + 5) + "}")
    assert value["fine"] == [1, "two"]
    assert value["bad"] == "owl \ufffd"
    assert value["\ufffd"] is True
    assert is_too_deep(json.dumps(value)) is False
    json.dumps(value).encode()  # every part can be answered


def test_read_json_of_a_value_deeper_than_the_parser_goes_is_empty() -> None:
    assert read_json(nested(100_000)) == []
    assert read_json('{"a": ' + nested(100_000) + "}") == {}


def test_readable_leaves_good_values_alone() -> None:
    value = {"a": [1, 2.5, None, True, "text"], "b": {"c": "ü"}}
    assert readable(value) == value
