"""Tests for ragserve.rag.metadata_ops: summary, update-request parsing, applying and targeting."""

from __future__ import annotations

import copy

import pytest

from ragserve.errors import DataError, RetCode
from ragserve.rag.metadata_ops import (
    apply_metadata_changes,
    select_documents,
    summarize_metadata,
    unknown_document_ids,
)
from ragserve.schemas.metadata_condition import MetadataConditionError, parse_metadata_condition
from ragserve.schemas.metadata_update import (
    MetadataDelete,
    MetadataUpdate,
    MetadataUpdateRequest,
    parse_metadata_update,
)

# --- summary ---------------------------------------------------------------------------------


def test_summary_counts_sorts_by_count_then_value_and_keeps_key_order() -> None:
    docs = [{"tag": "b", "lang": "en"}, {"tag": "a"}, {"tag": "c", "lang": "en"}, {"tag": "a"}]
    assert summarize_metadata(docs) == {
        "tag": {"type": "string", "values": [["a", 2], ["b", 1], ["c", 1]]},
        "lang": {"type": "string", "values": [["en", 2]]},
    }
    assert list(summarize_metadata(docs)) == ["tag", "lang"]


def test_summary_expands_list_values() -> None:
    docs = [{"tags": ["x", "y"]}, {"tags": ["y", "z", "y"]}]
    assert summarize_metadata(docs) == {
        "tags": {"type": "list", "values": [["y", 3], ["x", 1], ["z", 1]]}
    }


def test_summary_skips_none_and_empty_text_but_keeps_zero_and_false() -> None:
    docs: list[dict[str, object]] = [
        {"k": None},
        {"k": ""},
        {"k": 0},
        {"k": False},
        {"k": ["", None, 0]},
    ]
    assert summarize_metadata(docs)["k"]["values"] == [["0", 2], ["false", 1]]


def test_summary_leaves_out_keys_without_counted_values() -> None:
    assert summarize_metadata([{"a": None, "b": "", "c": [], "d": {"x": 1}}, {"e": 1}]) == {
        "e": {"type": "number", "values": [["1", 1]]}
    }


def test_summary_stringifies_values() -> None:
    docs: list[dict[str, object]] = [{"k": 5}, {"k": 2.5}, {"k": True}, {"k": 5.0}, {"k": "5"}]
    assert summarize_metadata(docs)["k"]["values"] == [
        ["5", 2],
        ["2.5", 1],
        ["5.0", 1],
        ["true", 1],
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b"], "string"),
        ([1, 2.5, "x"], "number"),
        ([True, False, 1], "string"),
        ([["a"], ["b"], "c"], "list"),
        (["2024-01-02T03:04:05", "2024-01-03T00:00:00", "x"], "time"),
        (["2024-01-02T03:04:05.123456", "x"], "string"),
    ],
)
def test_summary_type_is_the_most_common(values: list[object], expected: str) -> None:
    assert summarize_metadata([{"k": v} for v in values])["k"]["type"] == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, "a"], "string"),
        (["2024-01-02", 1], "number"),
        (["2024-01-02", ["a"]], "time"),
        ([["a"], "a"], "string"),
        ([1, ["a"]], "number"),
    ],
)
def test_summary_type_ties_follow_string_number_time_list(
    values: list[object], expected: str
) -> None:
    assert summarize_metadata([{"k": v} for v in values])["k"]["type"] == expected


def test_summary_type_counts_documents_not_list_elements() -> None:
    docs: list[dict[str, object]] = [{"k": ["a", "b", "c"]}, {"k": "x"}, {"k": "y"}]
    assert summarize_metadata(docs)["k"]["type"] == "string"


def test_summary_type_counts_documents_whose_values_are_skipped() -> None:
    docs: list[dict[str, object]] = [{"k": 1}, {"k": ""}, {"k": ""}]
    assert summarize_metadata(docs)["k"] == {"type": "string", "values": [["1", 1]]}


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05.5",
        "2024-01-02T03:04:05.123456",
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05+05:30",
        "2024-01-02T03:04:05.250-0800",
        "2024-01-02",
    ],
)
def test_summary_detects_iso_times(text: str) -> None:
    assert summarize_metadata([{"k": text}])["k"] == {"type": "time", "values": [[text, 1]]}


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-02",
        "2024-02-30T00:00:00",
        "2024-01-02 03:04:05",
        "2024-01-02T03:04",
        "20240102",
        "2024-01-02T03:04:05 ",
        "on 2024-01-02",
        "2024-W01",
    ],
)
def test_summary_treats_other_text_as_string(text: str) -> None:
    assert summarize_metadata([{"k": text}])["k"]["type"] == "string"


def test_summary_of_nothing_is_empty() -> None:
    assert summarize_metadata([]) == {}
    assert summarize_metadata([{}, {}]) == {}


# --- parsing the update request --------------------------------------------------------------


def test_parse_full_request() -> None:
    body = {
        "selector": {
            "document_ids": ["d1", "d2"],
            "metadata_condition": {
                "logic": "or",
                "conditions": [{"name": "a", "comparison_operator": "is", "value": "x"}],
            },
        },
        "updates": [
            {"key": "a", "value": "y"},
            {"key": "t", "value": ["p", 1, True], "match": 2},
        ],
        "deletes": [{"key": "b"}, {"key": "c", "value": False}],
    }
    assert parse_metadata_update(body) == MetadataUpdateRequest(
        document_ids=("d1", "d2"),
        condition=parse_metadata_condition(body["selector"]["metadata_condition"]),  # type: ignore[index]
        updates=(MetadataUpdate("a", "y"), MetadataUpdate("t", ("p", 1, True), 2)),
        deletes=(MetadataDelete("b"), MetadataDelete("c", False)),
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"selector": None, "updates": None, "deletes": None},
        {"selector": {}, "updates": [], "deletes": []},
        {"selector": {"document_ids": None, "metadata_condition": None}},
        {"selector": {"document_ids": []}},
    ],
)
def test_parse_absent_parts_mean_all_documents_and_no_changes(body: dict[str, object]) -> None:
    assert parse_metadata_update(body) == MetadataUpdateRequest(None, None, (), ())


def test_parse_empty_condition_object_keeps_an_empty_condition() -> None:
    request = parse_metadata_update({"selector": {"metadata_condition": {}}})
    assert request.condition is not None
    assert request.condition.conditions == ()


def test_parse_keeps_duplicate_document_ids_in_order() -> None:
    request = parse_metadata_update({"selector": {"document_ids": ["b", "a", "b"]}})
    assert request.document_ids == ("b", "a", "b")


def test_parse_request_is_frozen() -> None:
    request = parse_metadata_update({})
    with pytest.raises(AttributeError):
        request.updates = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"selector": []}, "selector must be an object."),
        ({"selector": "x"}, "selector must be an object."),
        ({"updates": {"key": "a"}}, "updates and deletes must be lists."),
        ({"deletes": "a"}, "updates and deletes must be lists."),
        ({"selector": {"metadata_condition": []}}, "metadata_condition must be an object."),
        ({"selector": {"metadata_condition": "a"}}, "metadata_condition must be an object."),
        ({"selector": {"document_ids": "d1"}}, "document_ids must be a list."),
        ({"selector": {"document_ids": {"d1": 1}}}, "document_ids must be a list."),
        ({"selector": {"document_ids": ["d1", 2]}}, "document_ids must be a list of strings."),
        ({"selector": {"document_ids": [None]}}, "document_ids must be a list of strings."),
        ({"updates": [{"value": "v"}]}, "Each update requires key and value."),
        ({"updates": [{"key": "", "value": "v"}]}, "Each update requires key and value."),
        ({"updates": [{"key": 5, "value": "v"}]}, "Each update requires key and value."),
        ({"updates": [{"key": "k"}]}, "Each update requires key and value."),
        ({"updates": [{"key": "k", "value": None}]}, "Each update requires key and value."),
        ({"updates": ["k"]}, "Each update requires key and value."),
        (
            {"updates": [{"key": "k", "value": {"a": 1}}]},
            "Each update value must be a string, number, boolean or a list of them.",
        ),
        (
            {"updates": [{"key": "k", "value": [1, [2]]}]},
            "Each update value must be a string, number, boolean or a list of them.",
        ),
        (
            {"updates": [{"key": "k", "value": 1, "match": [1]}]},
            "Each update match must be a string, number or boolean.",
        ),
        ({"deletes": [{"value": "v"}]}, "Each delete requires key."),
        ({"deletes": [{"key": ""}]}, "Each delete requires key."),
        ({"deletes": [{"key": ["k"]}]}, "Each delete requires key."),
        ({"deletes": [None]}, "Each delete requires key."),
        (
            {"deletes": [{"key": "k", "value": {"a": 1}}]},
            "Each delete value must be a string, number or boolean.",
        ),
    ],
)
def test_parse_rejects_malformed_bodies(body: dict[str, object], message: str) -> None:
    assert error_of(body) == message


def error_of(body: dict[str, object]) -> str:
    with pytest.raises(DataError) as info:
        parse_metadata_update(body)
    assert info.value.code == RetCode.DATA_ERROR
    return info.value.message


def test_parse_checks_in_ragflow_order() -> None:
    body: dict[str, object] = {"selector": [], "updates": "x", "deletes": [{}]}
    assert error_of(body) == "selector must be an object."
    bad_condition = {"conditions": [{"name": "a", "comparison_operator": "bogus"}]}
    body["selector"] = {"document_ids": "x", "metadata_condition": "x"}
    assert error_of(body) == "updates and deletes must be lists."
    body["updates"] = [{}]
    assert error_of(body) == "metadata_condition must be an object."
    body["selector"] = {"document_ids": "x", "metadata_condition": bad_condition}
    assert error_of(body) == "document_ids must be a list."
    body["selector"] = {"metadata_condition": bad_condition}
    assert error_of(body) == "Each update requires key and value."
    body["updates"] = []
    assert error_of(body) == "Each delete requires key."
    body["deletes"] = []
    with pytest.raises(MetadataConditionError):
        parse_metadata_update(body)


def test_parse_reports_bad_conditions_with_the_filter_error() -> None:
    body = {"selector": {"metadata_condition": {"conditions": [{"name": "a"}]}}}
    with pytest.raises(MetadataConditionError, match="comparison_operator is required"):
        parse_metadata_update(body)


def test_parse_null_match_and_null_delete_value_count_as_absent() -> None:
    body = {
        "updates": [{"key": "a", "value": 1, "match": None}],
        "deletes": [{"key": "b", "value": None}],
    }
    request = parse_metadata_update(body)
    assert request.updates == (MetadataUpdate("a", 1, None),)
    assert request.deletes == (MetadataDelete("b", None),)


def test_parse_does_not_mutate_the_body() -> None:
    body: dict[str, object] = {
        "selector": {"document_ids": ["d"]},
        "updates": [{"key": "a", "value": ["x", "x"]}],
    }
    before = copy.deepcopy(body)
    parse_metadata_update(body)
    assert body == before


# --- applying changes ------------------------------------------------------------------------


def apply(
    meta: dict[str, object],
    updates: list[MetadataUpdate] | None = None,
    deletes: list[MetadataDelete] | None = None,
) -> dict[str, object] | None:
    return apply_metadata_changes(meta, updates or [], deletes or [])


def test_update_without_match_sets_existing_and_new_keys() -> None:
    meta: dict[str, object] = {"a": "old", "b": 1}
    assert apply(meta, [MetadataUpdate("a", "new"), MetadataUpdate("c", 2)]) == {
        "a": "new",
        "b": 1,
        "c": 2,
    }


def test_update_without_match_replaces_a_list_with_a_scalar_and_back() -> None:
    assert apply({"a": ["x", "y"]}, [MetadataUpdate("a", "z")]) == {"a": "z"}
    assert apply({"a": "z"}, [MetadataUpdate("a", ("x",))]) == {"a": ["x"]}


def test_update_list_value_is_deduplicated_by_text_keeping_first() -> None:
    update = MetadataUpdate("a", ("x", "y", "x", 1, "1", True, "true", 2.5))
    assert apply({}, [update]) == {"a": ["x", "y", 1, True, 2.5]}


def test_update_with_match_replaces_a_matching_scalar() -> None:
    assert apply({"a": "old"}, [MetadataUpdate("a", "new", "old")]) == {"a": "new"}
    assert apply({"a": 5}, [MetadataUpdate("a", 6, "5")]) == {"a": 6}
    assert apply({"a": "5"}, [MetadataUpdate("a", 6, 5)]) == {"a": 6}
    assert apply({"a": True}, [MetadataUpdate("a", False, "true")]) == {"a": False}
    assert apply({"a": "x"}, [MetadataUpdate("a", ("p", "p", "q"), "x")]) == {"a": ["p", "q"]}


def test_update_with_match_compares_exact_text() -> None:
    assert apply({"a": "Old"}, [MetadataUpdate("a", "new", "old")]) is None
    assert apply({"a": True}, [MetadataUpdate("a", False, "True")]) is None
    assert apply({"a": 5.0}, [MetadataUpdate("a", 6, 5)]) is None


def test_update_with_match_replaces_matching_list_elements_and_dedupes() -> None:
    meta: dict[str, object] = {"a": ["x", "y", "x", "z"]}
    assert apply(meta, [MetadataUpdate("a", "z", "x")]) == {"a": ["z", "y"]}
    assert apply({"a": [1, 2, "1"]}, [MetadataUpdate("a", 9, 1)]) == {"a": [9, 2]}


def test_update_with_match_splices_a_list_value_into_a_list() -> None:
    meta: dict[str, object] = {"a": ["x", "y", "z"]}
    assert apply(meta, [MetadataUpdate("a", ("p", "z"), "y")]) == {"a": ["x", "p", "z"]}


def test_update_with_match_dedupes_existing_repeats_once_something_changed() -> None:
    assert apply({"a": ["x", "x", "y"]}, [MetadataUpdate("a", "z", "y")]) == {"a": ["x", "z"]}


def test_update_with_unmatched_match_changes_nothing() -> None:
    assert apply({"a": "x"}, [MetadataUpdate("a", "z", "nope")]) is None
    assert apply({"a": ["x", "y"]}, [MetadataUpdate("a", "z", "nope")]) is None
    assert apply({"a": ["x", "x"]}, [MetadataUpdate("a", "z", "nope")]) is None


def test_update_with_match_does_not_add_a_missing_key() -> None:
    assert apply({"b": 1}, [MetadataUpdate("a", "z", "x")]) is None


def test_update_with_match_does_not_match_null_or_objects() -> None:
    assert apply({"a": None}, [MetadataUpdate("a", "z", "None")]) is None
    assert apply({"a": {"x": 1}}, [MetadataUpdate("a", "z", "{'x': 1}")]) is None


def test_updates_apply_in_order() -> None:
    updates = [MetadataUpdate("a", "y", "x"), MetadataUpdate("a", "z", "y")]
    assert apply({"a": "x"}, updates) == {"a": "z"}


def test_delete_without_value_drops_the_key() -> None:
    assert apply({"a": ["x"], "b": 1}, deletes=[MetadataDelete("a")]) == {"b": 1}
    assert apply({"a": 0, "b": 1}, deletes=[MetadataDelete("a")]) == {"b": 1}


def test_delete_with_value_removes_matching_list_elements() -> None:
    meta: dict[str, object] = {"a": ["x", 1, "1", "y", True]}
    assert apply(meta, deletes=[MetadataDelete("a", "1")]) == {"a": ["x", "y", True]}
    assert apply(meta, deletes=[MetadataDelete("a", True)]) == {"a": ["x", 1, "1", "y"]}


def test_delete_of_the_last_list_elements_drops_the_key() -> None:
    meta: dict[str, object] = {"a": ["x", "x"], "b": 1}
    assert apply(meta, deletes=[MetadataDelete("a", "x")]) == {"b": 1}


def test_delete_with_value_from_an_empty_list_keeps_it() -> None:
    assert apply({"a": []}, deletes=[MetadataDelete("a", "x")]) is None


def test_delete_with_value_drops_a_matching_scalar_only() -> None:
    assert apply({"a": 5, "b": 1}, deletes=[MetadataDelete("a", "5")]) == {"b": 1}
    assert apply({"a": False}, deletes=[MetadataDelete("a", "false")]) == {}
    assert apply({"a": 5}, deletes=[MetadataDelete("a", 6)]) is None
    assert apply({"a": "X"}, deletes=[MetadataDelete("a", "x")]) is None


def test_delete_of_a_missing_key_changes_nothing() -> None:
    assert apply({"b": 1}, deletes=[MetadataDelete("a")]) is None
    assert apply({"b": 1}, deletes=[MetadataDelete("a", "x")]) is None


def test_updates_run_before_deletes() -> None:
    assert apply({"a": "w"}, [MetadataUpdate("a", "x")], [MetadataDelete("a")]) == {}
    assert apply({"a": "x"}, [MetadataUpdate("a", "y")], [MetadataDelete("a", "y")]) == {}
    updates = [MetadataUpdate("a", ("x", "y", "z"))]
    assert apply({"a": ["x"]}, updates, [MetadataDelete("a", "y")]) == {"a": ["x", "z"]}


def test_no_change_returns_none() -> None:
    assert apply({"a": "x"}) is None
    assert apply({"a": "x"}, [MetadataUpdate("a", "x")]) is None
    assert apply({"a": ["x", "y"]}, [MetadataUpdate("a", ("x", "y", "x"))]) is None
    assert apply({"a": "x"}, [MetadataUpdate("a", "y"), MetadataUpdate("a", "x")]) is None
    assert apply({}, [MetadataUpdate("a", "x")], [MetadataDelete("a")]) is None


def test_a_change_of_type_alone_is_a_change() -> None:
    assert apply({"a": 1}, [MetadataUpdate("a", True)]) == {"a": True}
    assert apply({"a": 1}, [MetadataUpdate("a", 1.0)]) == {"a": 1.0}
    assert apply({"a": 1}, [MetadataUpdate("a", "1")]) == {"a": "1"}
    assert apply({"a": "x"}, [MetadataUpdate("a", ("x",))]) == {"a": ["x"]}


def test_inputs_are_not_mutated() -> None:
    meta: dict[str, object] = {"a": ["x", "y"], "b": "z", "c": 1}
    updates = [MetadataUpdate("a", "w", "x"), MetadataUpdate("d", ("p",))]
    deletes = [MetadataDelete("a", "y"), MetadataDelete("c")]
    before = copy.deepcopy(meta)
    result = apply(meta, updates, deletes)
    assert result == {"a": ["w"], "b": "z", "d": ["p"]}
    assert meta == before
    assert result is not meta
    assert updates == [MetadataUpdate("a", "w", "x"), MetadataUpdate("d", ("p",))]


def test_result_lists_are_not_shared_with_the_input() -> None:
    meta: dict[str, object] = {"a": ["x", "y"]}
    result = apply(meta, deletes=[MetadataDelete("a", "y")])
    assert result is not None
    assert result["a"] == ["x"]
    assert meta["a"] == ["x", "y"]


# --- selecting targets -----------------------------------------------------------------------

DOCS: list[tuple[str, dict[str, object]]] = [
    ("d1", {"lang": "en", "year": 2020}),
    ("d2", {"lang": "fr"}),
    ("d3", {"lang": "en", "year": 2024}),
    ("d4", {}),
]


def request_for(selector: dict[str, object]) -> MetadataUpdateRequest:
    return parse_metadata_update({"selector": selector})


def lang_is(value: str) -> dict[str, object]:
    return {"conditions": [{"name": "lang", "comparison_operator": "is", "value": value}]}


def test_select_everything_without_ids_or_condition() -> None:
    assert select_documents(request_for({}), DOCS) == ["d1", "d2", "d3", "d4"]
    assert select_documents(request_for({"document_ids": []}), DOCS) == ["d1", "d2", "d3", "d4"]


def test_select_by_ids_keeps_dataset_order() -> None:
    request = request_for({"document_ids": ["d3", "d1", "d3", "zz"]})
    assert select_documents(request, DOCS) == ["d1", "d3"]


def test_select_by_condition() -> None:
    request = request_for({"metadata_condition": lang_is("en")})
    assert select_documents(request, DOCS) == ["d1", "d3"]


def test_select_by_ids_and_condition_intersects() -> None:
    request = request_for({"document_ids": ["d2", "d3"], "metadata_condition": lang_is("en")})
    assert select_documents(request, DOCS) == ["d3"]


def test_select_with_a_condition_matching_nothing() -> None:
    request = request_for({"metadata_condition": lang_is("de")})
    assert select_documents(request, DOCS) == []
    request = request_for({"document_ids": ["d2"], "metadata_condition": lang_is("en")})
    assert select_documents(request, DOCS) == []


def test_select_with_an_empty_condition_selects_all() -> None:
    assert select_documents(request_for({"metadata_condition": {}}), DOCS) == [
        "d1",
        "d2",
        "d3",
        "d4",
    ]


def test_select_from_an_empty_dataset() -> None:
    assert select_documents(request_for({}), []) == []


def test_unknown_ids_in_request_order_without_repeats() -> None:
    request = request_for({"document_ids": ["x2", "d1", "x1", "x2", "d4", "x1"]})
    assert unknown_document_ids(request, {"d1", "d2", "d3", "d4"}) == ["x2", "x1"]


def test_no_unknown_ids_when_all_known_or_none_given() -> None:
    ids = ["d1", "d2", "d3", "d4"]
    assert unknown_document_ids(request_for({"document_ids": ["d2", "d1"]}), ids) == []
    assert unknown_document_ids(request_for({}), ids) == []
    assert unknown_document_ids(request_for({"document_ids": []}), []) == []
