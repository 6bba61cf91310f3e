"""Tests for ragserve.rag.metadata_filter: parsing, validation messages and evaluation."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping

import pytest

from ragserve.errors import ArgumentError
from ragserve.rag.metadata_filter import filter_documents, matches
from ragserve.schemas.metadata_condition import (
    Condition,
    MetadataCondition,
    MetadataConditionError,
    Operator,
    parse_metadata_condition,
)

MISSING = object()


def build(*conditions: tuple[str, str, object], logic: str = "and") -> MetadataCondition:
    """Parse a filter from (name, operator, value) triples; MISSING leaves value out."""
    items = []
    for name, op, value in conditions:
        item: dict[str, object] = {"name": name, "comparison_operator": op}
        if value is not MISSING:
            item["value"] = value
        items.append(item)
    parsed = parse_metadata_condition({"logic": logic, "conditions": items})
    assert parsed is not None
    return parsed


def check(op: str, value: object, doc_value: object) -> bool:
    """Whether a document whose key ``k`` holds ``doc_value`` (MISSING: no key) matches."""
    meta: Mapping[str, object] = {} if doc_value is MISSING else {"k": doc_value}
    return matches(build(("k", op, value)), meta)


# --- parsing -------------------------------------------------------------------------------


def test_none_means_no_filter() -> None:
    assert parse_metadata_condition(None) is None


def test_parses_full_condition() -> None:
    parsed = parse_metadata_condition(
        {
            "logic": "or",
            "conditions": [
                {"name": "author", "comparison_operator": "is", "value": "Ann"},
                {"name": "tags", "comparison_operator": "in", "value": ["a", 2]},
                {"name": "year", "comparison_operator": "≥", "value": 2020},
            ],
        }
    )
    assert parsed == MetadataCondition(
        "or",
        (
            Condition("author", Operator.IS, "Ann"),
            Condition("tags", Operator.IN, ("a", 2)),
            Condition("year", Operator.GE, 2020),
        ),
    )


@pytest.mark.parametrize("raw", [{}, {"conditions": []}, {"conditions": None}, {"logic": "or"}])
def test_no_conditions_parse_to_empty_tuple(raw: dict[str, object]) -> None:
    parsed = parse_metadata_condition(raw)
    assert parsed is not None
    assert parsed.conditions == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, "and"),
        ({"logic": None}, "and"),
        ({"logic": "OR"}, "or"),
        ({"logic": " And "}, "and"),
        ({"logical_operator": "or"}, "or"),
        ({"logical_operator": "AND"}, "and"),
        ({"logic": None, "logical_operator": "or"}, "or"),
        ({"logic": "and", "logical_operator": "or"}, "and"),
    ],
)
def test_logic_keys_and_defaults(raw: dict[str, object], expected: str) -> None:
    parsed = parse_metadata_condition(raw)
    assert parsed is not None
    assert parsed.logic == expected


@pytest.mark.parametrize(
    ("spelling", "operator"),
    [
        ("is", Operator.IS),
        ("IS", Operator.IS),
        ("not is", Operator.NOT_IS),
        ("  Not   Is ", Operator.NOT_IS),
        ("Start With", Operator.START_WITH),
        ("end with", Operator.END_WITH),
        ("contains", Operator.CONTAINS),
        ("not contains", Operator.NOT_CONTAINS),
        ("not in", Operator.NOT_IN),
        ("=", Operator.EQ),
        ("≠", Operator.NE),
        ("!=", Operator.NE),
        (">", Operator.GT),
        ("<", Operator.LT),
        ("≥", Operator.GE),
        (">=", Operator.GE),
        ("≤", Operator.LE),
        ("<=", Operator.LE),
        ("is not", Operator.NOT_IS),
        ("before", Operator.LT),
        ("after", Operator.GT),
        ("null", Operator.EMPTY),
        ("not null", Operator.NOT_EMPTY),
    ],
)
def test_operator_spellings(spelling: str, operator: Operator) -> None:
    assert build(("k", spelling, "x")).conditions[0].operator is operator


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a, b,,c ,", ("a", "b", "c")),
        ("single", ("single",)),
        ("", ()),
        (["x", 1, 2.5, True], ("x", 1, 2.5, True)),
        ([], ()),
        (7, (7,)),
    ],
)
def test_in_values_are_normalised(value: object, expected: tuple[object, ...]) -> None:
    assert build(("k", "in", value)).conditions[0].value == expected
    assert build(("k", "not in", value)).conditions[0].value == expected


@pytest.mark.parametrize("op", ["empty", "not empty", "EMPTY"])
@pytest.mark.parametrize("value", [MISSING, None, "", "ignored", [1], {"a": 1}])
def test_empty_operators_need_no_value(op: str, value: object) -> None:
    assert build(("k", op, value)).conditions[0].value is None


def test_extra_keys_are_ignored() -> None:
    raw = {
        "logic": "and",
        "extra": 1,
        "conditions": [{"name": "k", "comparison_operator": "is", "value": "v", "id": 3}],
    }
    assert parse_metadata_condition(raw) == MetadataCondition(
        "and", (Condition("k", Operator.IS, "v"),)
    )


def _cond(**fields: object) -> dict[str, object]:
    return {"conditions": [{"name": "ok", "comparison_operator": "is", "value": "v"}, fields]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "metadata_condition: must be an object, got string"),
        ([], "metadata_condition: must be an object, got array"),
        (5, "metadata_condition: must be an object, got number"),
        ({"logic": "xor"}, "metadata_condition.logic: must be 'and' or 'or', got 'xor'"),
        ({"logic": ""}, "metadata_condition.logic: must be 'and' or 'or', got ''"),
        ({"logic": 1}, "metadata_condition.logic: must be 'and' or 'or', got number"),
        (
            {"logical_operator": "nor"},
            "metadata_condition.logical_operator: must be 'and' or 'or', got 'nor'",
        ),
        ({"conditions": "a"}, "metadata_condition.conditions: must be a list, got string"),
        ({"conditions": {}}, "metadata_condition.conditions: must be a list, got object"),
        ({"conditions": [1]}, "metadata_condition.conditions[0]: must be an object, got number"),
        ({"conditions": [None]}, "metadata_condition.conditions[0]: must be an object, got null"),
        (
            _cond(comparison_operator="is", value="v"),
            "metadata_condition.conditions[1]: name must be a non-empty string",
        ),
        (
            _cond(name="", comparison_operator="is", value="v"),
            "metadata_condition.conditions[1]: name must be a non-empty string",
        ),
        (
            _cond(name="  ", comparison_operator="is", value="v"),
            "metadata_condition.conditions[1]: name must be a non-empty string",
        ),
        (
            _cond(name=3, comparison_operator="is", value="v"),
            "metadata_condition.conditions[1]: name must be a non-empty string",
        ),
        (
            _cond(name="k", value="v"),
            "metadata_condition.conditions[1]: comparison_operator is required",
        ),
        (
            _cond(name="k", comparison_operator=None, value="v"),
            "metadata_condition.conditions[1]: comparison_operator must be a string, got null",
        ),
        (
            _cond(name="k", comparison_operator="foo", value="v"),
            "metadata_condition.conditions[1]: unknown comparison_operator 'foo'",
        ),
        (
            _cond(name="k", comparison_operator="is nope", value="v"),
            "metadata_condition.conditions[1]: unknown comparison_operator 'is nope'",
        ),
        (
            _cond(name="k", comparison_operator="x" * 100, value="v"),
            f"metadata_condition.conditions[1]: unknown comparison_operator '{'x' * 40}...'",
        ),
        (
            _cond(name="k", comparison_operator="a\nb", value="v"),
            "metadata_condition.conditions[1]: unknown comparison_operator 'a\\nb'",
        ),
        (
            _cond(name="k", comparison_operator="is"),
            "metadata_condition.conditions[1]: value is required for 'is'",
        ),
        (
            _cond(name="k", comparison_operator=">=", value=None),
            "metadata_condition.conditions[1]: value is required for '≥'",
        ),
        (
            _cond(name="k", comparison_operator="is", value=["a"]),
            "metadata_condition.conditions[1]: value for 'is' must be a string, number or "
            "boolean, got array",
        ),
        (
            _cond(name="k", comparison_operator="contains", value={"a": 1}),
            "metadata_condition.conditions[1]: value for 'contains' must be a string, number or "
            "boolean, got object",
        ),
        (
            _cond(name="k", comparison_operator="in", value={"a": 1}),
            "metadata_condition.conditions[1]: value for 'in' must be a list of strings, numbers "
            "or booleans, or a comma-separated string",
        ),
        (
            _cond(name="k", comparison_operator="not in", value=["a", ["b"]]),
            "metadata_condition.conditions[1]: value for 'not in' must be a list of strings, "
            "numbers or booleans, or a comma-separated string",
        ),
        (
            _cond(name="k", comparison_operator="in", value=[None]),
            "metadata_condition.conditions[1]: value for 'in' must be a list of strings, numbers "
            "or booleans, or a comma-separated string",
        ),
    ],
)
def test_invalid_input_messages(raw: object, message: str) -> None:
    with pytest.raises(MetadataConditionError) as caught:
        parse_metadata_condition(raw)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert "\n" not in message


def test_error_is_an_argument_error_with_code_101() -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_metadata_condition({"logic": "xor"})
    assert caught.value.code == 101


# --- evaluation of single operators --------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "doc_value", "expected"),
    [
        # is / = : case-insensitive text, numeric strings, list elements
        ("is", "Ann", "ann", True),
        ("is", "ann", "Anna", False),
        ("is", "Straße", "STRASSE", True),
        ("is", "CAFÉ", "Cafe\u0301", True),
        ("is", 5, "5", True),
        ("is", "5", 5, True),
        ("is", "5.0", 5, True),
        ("is", 0.1, "0.1", True),
        ("is", "1e3", 1000, True),
        ("is", " 7 ", 7, True),
        ("is", 5, "five", False),
        ("is", "abc", 5, False),
        ("is", True, "TRUE", True),
        ("is", "true", True, True),
        ("is", True, 1, False),
        ("is", 1, True, False),
        ("is", "b", ["a", "B"], True),
        ("is", "c", ["a", "b"], False),
        ("is", "2024-01-01", "2024-01-01T00:00:00Z", True),
        ("is", "v", MISSING, False),
        ("is", "v", None, False),
        ("is", "v", {"v": 1}, False),
        ("is", "v", [["v"]], False),
        ("=", "x", "X", True),
        ("=", 3, 4, False),
        # not is / ≠ : exact negation, so a missing key or list without the value matches
        ("not is", "Ann", "ANN", False),
        ("not is", "Ann", "Bob", True),
        ("not is", "v", MISSING, True),
        ("not is", "a", ["a", "b"], False),
        ("not is", "c", ["a", "b"], True),
        ("≠", 5, "5", False),
        ("≠", 5, 6, True),
        ("≠", 5, "five", True),
        ("!=", "x", "y", True),
        # contains: the document value contains the condition value
        ("contains", "ET", "Beta", True),
        ("contains", "strasse", "Hauptstraße", True),
        ("contains", "beta", "be", False),
        ("contains", "x", "", False),
        ("contains", "", "anything", True),
        ("contains", "ph", ["alpha", "beta"], True),
        ("contains", "zz", ["alpha", "beta"], False),
        ("contains", 234, 12345, True),
        ("contains", "2.5", 12.5, True),
        ("contains", "ue", True, True),
        ("contains", "v", MISSING, False),
        ("not contains", "ET", "Beta", False),
        ("not contains", "xyz", "Beta", True),
        ("not contains", "ph", ["alpha", "beta"], False),
        ("not contains", "v", MISSING, True),
        # in: the document value is one of the condition values
        ("in", ["a", "b"], "B", True),
        ("in", ["a", "b"], "c", False),
        ("in", "a, b", "b", True),
        ("in", "abc,def", "a", False),
        ("in", "abc", "b", False),
        ("in", [5, 6], "5", True),
        ("in", "5,6", 6, True),
        ("in", "x", ["y", "X"], True),
        ("in", ["p", "q"], ["y", "z"], False),
        ("in", [], "a", False),
        ("in", ["a"], MISSING, False),
        ("not in", ["a", "b"], "B", False),
        ("not in", ["a", "b"], "c", True),
        ("not in", "x", ["y", "X"], False),
        ("not in", [], "a", True),
        ("not in", ["a"], MISSING, True),
        # start with / end with
        ("start with", "HAUPT", "Hauptstraße", True),
        ("start with", "straße", "Hauptstraße", False),
        ("start with", "20", 2024, True),
        ("start with", "b", ["alpha", "beta"], True),
        ("start with", "x", MISSING, False),
        ("end with", "STRASSE", "Hauptstraße", True),
        ("end with", "haupt", "Hauptstraße", False),
        ("end with", ".5", 1.5, True),
        ("end with", "ta", ["alpha", "beta"], True),
        ("end with", "x", MISSING, False),
        # empty / not empty
        ("empty", MISSING, MISSING, True),
        ("empty", MISSING, None, True),
        ("empty", MISSING, "", True),
        ("empty", MISSING, [], True),
        ("empty", MISSING, {}, True),
        ("empty", MISSING, 0, False),
        ("empty", MISSING, False, False),
        ("empty", MISSING, " ", False),
        ("empty", MISSING, [""], False),
        ("not empty", MISSING, MISSING, False),
        ("not empty", MISSING, None, False),
        ("not empty", MISSING, [], False),
        ("not empty", MISSING, 0, True),
        ("not empty", MISSING, "x", True),
        ("not empty", "", {"a": 1}, True),
    ],
)
def test_operator(op: str, value: object, doc_value: object, expected: bool) -> None:
    assert check(op, value, doc_value) is expected


@pytest.mark.parametrize(
    ("op", "value", "doc_value", "expected"),
    [
        # numeric when both sides are numbers, even as strings
        (">", "9", "10", True),
        (">", 9, "10", True),
        ("<", "9", "10", False),
        ("≥", 10, "10.0", True),
        ("≤", "1e1", 10, True),
        (">", -1, "-0.5", True),
        (">", 2.5, 3, True),
        ("<", 0.3, 0.1, True),
        # a number never orders against text
        (">", 5, "abc", False),
        ("<", 5, "abc", False),
        (">", "5", "abc", False),
        ("<", "abc", 5, False),
        (">", 5, "10 kg", False),
        (">", 5, "1e99999999999999999999999", False),
        ("≥", "1E99999999999999999999999", "1e99999999999999999999999", True),
        (">", 5, float("inf"), False),
        ("≥", "inf", float("inf"), True),
        # ISO dates and datetimes compare in time
        (">", "2024-01-15", "2024-02-01", True),
        ("<", "2024-01-15", "2024-02-01", False),
        ("≥", "2024-01-01", "2024-01-01T00:00:00", True),
        ("<", "2024-01-01T09:00:00Z", "2024-01-01T10:00:00+02:00", True),
        (">", "2024-01-01T09:00:00", "2024-01-01T09:30:00+00:00", True),
        ("<", "2024-01-01T09:00:00", "2024-01-01T09:30:00+01:00", True),
        ("≤", "2024-06-30", "2024-06-30", True),
        # otherwise case-insensitive text order
        (">", "A", "b", True),
        ("<", "B", "a", True),
        ("≥", "abc", "ABC", True),
        ("≤", "abc", "ABD", False),
        (">", "2024-01", "2024-01-15", True),
        # list values: any element satisfies
        (">", 10, [1, 20], True),
        (">", 30, [1, 20], False),
        ("<", 5, ["x", 3], True),
        ("≤", 5, [], False),
        # missing key, null and nested values never satisfy an ordering
        (">", 0, MISSING, False),
        ("<", 0, None, False),
        (">", 0, {"a": 1}, False),
        (">", 0, [[1]], False),
        (">=", 3, 3, True),
        ("<=", 3, 4, False),
    ],
)
def test_ordering_operators(op: str, value: object, doc_value: object, expected: bool) -> None:
    assert check(op, value, doc_value) is expected


NEGATION_PAIRS = [("is", "not is"), ("=", "≠"), ("contains", "not contains"), ("in", "not in")]
DOC_VALUES: list[object] = [MISSING, None, "", "a", "A", "b", 5, "5", True, [], ["a", "b"], {}]


@pytest.mark.parametrize(("positive", "negative"), NEGATION_PAIRS)
@pytest.mark.parametrize("value", ["a", "5", 5])
def test_negations_are_exact_complements(positive: str, negative: str, value: object) -> None:
    for doc_value in DOC_VALUES:
        assert check(positive, value, doc_value) is not check(negative, value, doc_value)


def test_empty_and_not_empty_are_complements() -> None:
    for doc_value in DOC_VALUES:
        assert check("empty", MISSING, doc_value) is not check("not empty", MISSING, doc_value)


def test_does_not_evaluate_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("evaluated user data")

    monkeypatch.setattr(ast, "literal_eval", refuse)
    monkeypatch.setattr(builtins, "eval", refuse)
    assert check("is", "abc", "'abc'") is False
    assert check("is", "[1, 2]", 1) is False
    assert check("in", "[1, 2]", 1) is False
    assert check(">", "__import__('os')", "z") is True
    assert check("is", "None", None) is False


# --- combining conditions ------------------------------------------------------------------

DOCS: list[tuple[str, Mapping[str, object]]] = [
    ("d1", {"author": "Ann", "year": 2020, "tags": ["ml", "nlp"]}),
    ("d2", {"author": "Bob", "year": "2023", "tags": ["vision"]}),
    ("d3", {"author": "ann", "year": 2024}),
    ("d4", {}),
]


@pytest.mark.parametrize(
    ("logic", "conditions", "expected"),
    [
        ("and", [("author", "is", "ann")], ["d1", "d3"]),
        ("and", [("author", "is", "ann"), ("year", ">", 2021)], ["d3"]),
        ("or", [("author", "is", "bob"), ("year", ">", 2021)], ["d2", "d3"]),
        ("or", [("author", "is", "nobody"), ("tags", "in", "ml")], ["d1"]),
        ("or", [("nokey", "is", "x"), ("author", "is", "bob")], ["d2"]),
        ("and", [("nokey", "is", "x"), ("author", "is", "bob")], []),
        ("and", [("nokey", "not is", "x")], ["d1", "d2", "d3", "d4"]),
        ("and", [("tags", "empty", MISSING)], ["d3", "d4"]),
        ("and", [("tags", "not empty", MISSING), ("tags", "not contains", "vis")], ["d1"]),
        ("or", [("year", "<", 2021), ("year", "≥", "2024")], ["d1", "d3"]),
        ("and", [("year", "≥", 2020), ("year", "≤", 2023)], ["d1", "d2"]),
        ("and", [("author", "start with", "A"), ("author", "end with", "N")], ["d1", "d3"]),
    ],
)
def test_filter_documents(
    logic: str, conditions: list[tuple[str, str, object]], expected: list[str]
) -> None:
    assert filter_documents(build(*conditions, logic=logic), DOCS) == expected


@pytest.mark.parametrize("logic", ["and", "or"])
def test_no_conditions_match_every_document(logic: str) -> None:
    parsed = parse_metadata_condition({"logic": logic, "conditions": []})
    assert parsed is not None
    assert filter_documents(parsed, DOCS) == ["d1", "d2", "d3", "d4"]


def test_or_is_independent_of_condition_order() -> None:
    first = build(("author", "is", "nobody"), ("year", "=", 2023), logic="or")
    second = build(("year", "=", 2023), ("author", "is", "nobody"), logic="or")
    assert filter_documents(first, DOCS) == filter_documents(second, DOCS) == ["d2"]


def test_filter_documents_keeps_input_order() -> None:
    docs = [("z", {"k": 1}), ("a", {"k": 2}), ("m", {"k": 3}), ("b", {"k": 0})]
    assert filter_documents(build(("k", ">", 0)), docs) == ["z", "a", "m"]
    assert filter_documents(build(("k", ">", 0)), reversed(docs)) == ["m", "a", "z"]


def test_dify_logical_operator_is_honoured() -> None:
    parsed = parse_metadata_condition(
        {
            "logical_operator": "or",
            "conditions": [
                {"name": "author", "comparison_operator": "is", "value": "Bob"},
                {"name": "year", "comparison_operator": "=", "value": 2020},
            ],
        }
    )
    assert parsed is not None
    assert filter_documents(parsed, DOCS) == ["d1", "d2"]


def test_matches_directly() -> None:
    parsed = build(("lang", "in", ["en", "de"]), ("pages", "≥", "10"))
    assert matches(parsed, {"lang": "EN", "pages": 12}) is True
    assert matches(parsed, {"lang": "fr", "pages": 12}) is False
    assert matches(parsed, {"lang": "de", "pages": "9"}) is False


def test_dify_list_names_and_dates() -> None:
    raw = {"logical_operator": "and", "conditions": [
        {"name": ["published"], "comparison_operator": "after", "value": "2024-01-01"},
        {"name": ["author"], "comparison_operator": "not null"},
    ]}  # fmt: skip
    condition = parse_metadata_condition(raw)
    assert condition is not None
    assert matches(condition, {"published": "2024-06-30", "author": "ann"})
    assert not matches(condition, {"published": "2023-12-31", "author": "ann"})
    assert not matches(condition, {"published": "2024-06-30"})
    with pytest.raises(MetadataConditionError):
        parse_metadata_condition(
            {"conditions": [{"name": ["a", "b"], "comparison_operator": "empty"}]}
        )
