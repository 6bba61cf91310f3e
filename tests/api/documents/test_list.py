"""Listing documents: filters, paging, ordering, metadata conditions."""

from __future__ import annotations

from typing import Any

import pytest

from api.documents.support import (
    DOCUMENT_KEYS,
    PDF,
    UPLOAD_KEYS,
    condition,
    docs_url,
    list_docs,
    listed,
    listed_names,
    make_dataset,
    new_id,
    set_document,
    update,
    upload,
    upload_one,
)
from conftest import Account
from ragserve.runtime import Runtime

# --------------------------------------------------------------------------------------------
# list


def test_list_shape(alice: Account, dataset: str) -> None:
    uploaded = upload_one(alice, dataset, "a.txt", b"12345")
    body = list_docs(alice, dataset)
    assert set(body) == {"code", "data"}
    assert set(body["data"]) == {"total", "docs"}
    assert body["data"]["total"] == 1
    [doc] = body["data"]["docs"]
    assert set(doc) == DOCUMENT_KEYS | {"title"}
    assert doc["title"] is None
    assert doc["run"] == "UNSTART"
    assert doc["status"] == "1"
    assert doc["meta_fields"] == {}
    assert doc["chunk_count"] == doc["token_count"] == 0
    assert doc["progress"] == 0.0
    assert doc["progress_msg"] == ""
    assert doc["process_begin_at"] is None
    assert isinstance(doc["create_time"], int) and isinstance(doc["update_time"], int)
    assert doc["create_date"].endswith(" GMT")
    for key in UPLOAD_KEYS:
        assert doc[key] == uploaded[key], key


def test_list_empty_dataset(alice: Account, dataset: str) -> None:
    assert list_docs(alice, dataset) == {"code": 0, "data": {"total": 0, "docs": []}}


def test_list_only_this_datasets_documents(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    upload_one(alice, first, "one.txt")
    upload_one(alice, second, "two.txt")
    assert listed_names(alice, first) == ["one.txt"]
    assert listed_names(alice, second) == ["two.txt"]


@pytest.fixture
def five_docs(runtime: Runtime, alice: Account, dataset: str) -> list[str]:
    """Documents d1..d5 (sizes 1..5) with create_time 1000..5000; their ids in that order."""
    ids = []
    for number in range(1, 6):
        doc = upload_one(alice, dataset, f"d{number}.txt", b"x" * number)
        set_document(runtime, doc["id"], create_time=number * 1000)
        ids.append(doc["id"])
    return ids


def test_list_default_order_is_newest_first(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    assert [d["id"] for d in listed(alice, dataset)] == list(reversed(five_docs))


def test_list_pagination(alice: Account, dataset: str, five_docs: list[str]) -> None:
    pages = [list_docs(alice, dataset, page=page, page_size=2)["data"] for page in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [[d["name"] for d in p["docs"]] for p in pages] == [
        ["d5.txt", "d4.txt"],
        ["d3.txt", "d2.txt"],
        ["d1.txt"],
        [],
    ]


def test_list_default_page_size_is_30(alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, *[(f"f{i}.txt", b"x") for i in range(32)])
    assert body["code"] == 0
    data = list_docs(alice, dataset)["data"]
    assert data["total"] == 32
    assert len(data["docs"]) == 30


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "-1"}, "page"),
        ({"page": "a"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": ""}, "page"),
        ({"page_size": "-3"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
    ],
)
def test_list_bad_paging_is_argument_error(
    alice: Account, dataset: str, params: dict[str, str], field: str
) -> None:
    body = list_docs(alice, dataset, **params)
    assert body["code"] == 101
    assert body["message"].startswith(f"Field: <{field}> - Message: <")
    assert "data" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"page": 10**18, "page_size": 10**6},
        {"page": 10**30},
        {"page_size": 10**30},
        {"create_time_from": 10**30},
        {"create_time_to": 10**30},
    ],
)
def test_list_huge_numbers_are_not_server_errors(
    alice: Account, dataset: str, params: dict[str, int]
) -> None:
    upload_one(alice, dataset)
    response = alice.client.get(docs_url(dataset), params=params, headers=alice.api_headers)
    assert response.status_code == 200, response.text
    assert response.json()["code"] in (0, 101), response.json()


@pytest.mark.parametrize(
    ("orderby", "desc", "expected"),
    [
        ("name", "false", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("name", "true", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("size", "FALSE", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("size", "False", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("create_time", " false ", ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "d5.txt"]),
        ("create_time", "0", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("create_time", "no", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("create_time", "", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
        ("size", "anything", ["d5.txt", "d4.txt", "d3.txt", "d2.txt", "d1.txt"]),
    ],
)
def test_list_orderby_and_desc(
    alice: Account,
    dataset: str,
    five_docs: list[str],
    orderby: str,
    desc: str,
    expected: list[str],
) -> None:
    assert listed_names(alice, dataset, orderby=orderby, desc=desc) == expected


@pytest.mark.parametrize(
    ("orderby", "column"), [("chunk_num", "chunk_count"), ("token_num", "token_count")]
)
def test_list_orderby_accepts_ragflow_column_names(
    runtime: Runtime, alice: Account, dataset: str, orderby: str, column: str
) -> None:
    for number, name in ((2, "b.txt"), (3, "c.txt"), (1, "a.txt")):
        set_document(runtime, upload_one(alice, dataset, name)["id"], **{column: number})
    assert listed_names(alice, dataset, orderby=orderby, desc="false") == [
        "a.txt",
        "b.txt",
        "c.txt",
    ]
    assert listed_names(alice, dataset, orderby=column) == ["c.txt", "b.txt", "a.txt"]


@pytest.mark.parametrize("orderby", ["bogus", "meta_fields; DROP TABLE document", "parser_config"])
def test_list_unknown_orderby_is_argument_error(alice: Account, dataset: str, orderby: str) -> None:
    upload_one(alice, dataset)
    body = list_docs(alice, dataset, orderby=orderby)
    assert body["code"] == 101
    assert body["message"].startswith("Field: <orderby> - Message: <")
    assert f"Value: <{orderby}>" in body["message"]
    assert listed_names(alice, dataset) == ["a.txt"]


def test_list_keywords_are_case_insensitive_substrings(alice: Account, dataset: str) -> None:
    upload(
        alice,
        dataset,
        ("Annual Report.pdf", PDF),
        ("report-2024.txt", b"x"),
        ("notes.txt", b"x"),
    )
    assert sorted(listed_names(alice, dataset, keywords="REPORT")) == [
        "Annual Report.pdf",
        "report-2024.txt",
    ]
    assert listed_names(alice, dataset, keywords="nual rep") == ["Annual Report.pdf"]
    assert list_docs(alice, dataset, keywords="report")["data"]["total"] == 2
    assert listed_names(alice, dataset, keywords="zzz") == []


def test_list_keywords_wildcards_are_literal(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("a_b.txt", b"x"), ("axb.txt", b"x"), ("100%.txt", b"x"))
    assert listed_names(alice, dataset, keywords="a_b") == ["a_b.txt"]
    assert listed_names(alice, dataset, keywords="%") == ["100%.txt"]


def test_list_keywords_fold_non_ascii_case(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("Äpfel.txt", b"x"), ("ÉTÉ.txt", b"x"), ("other.txt", b"x"))
    assert listed_names(alice, dataset, keywords="äpfel") == ["Äpfel.txt"]
    assert listed_names(alice, dataset, keywords="été") == ["ÉTÉ.txt"]


def test_list_suffix_filter_is_repeatable(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("a.pdf", PDF), ("b.txt", b"x"), ("c.md", b"x"), ("d.PDF", PDF))
    assert sorted(listed_names(alice, dataset, suffix="pdf")) == ["a.pdf", "d.PDF"]
    assert sorted(listed_names(alice, dataset, suffix=["pdf", "md"])) == [
        "a.pdf",
        "c.md",
        "d.PDF",
    ]
    assert sorted(listed_names(alice, dataset, suffix="TXT")) == ["b.txt"]
    assert list_docs(alice, dataset, suffix=["txt", "md"])["data"]["total"] == 2


def test_list_suffix_of_content_detected_document(alice: Account, dataset: str) -> None:
    upload(alice, dataset, ("noext", b"plain"), ("blob", PDF))
    assert listed_names(alice, dataset, suffix="txt") == ["noext"]
    assert listed_names(alice, dataset, suffix="pdf") == ["blob"]


@pytest.fixture
def runs(runtime: Runtime, alice: Account, dataset: str) -> dict[str, str]:
    """One document per run code; name -> id."""
    names = {"0": "unstart.txt", "1": "running.txt", "3": "done.txt", "4": "fail.txt"}
    ids = {}
    for code, name in names.items():
        doc = upload_one(alice, dataset, name)
        set_document(runtime, doc["id"], run=code)
        ids[name] = doc["id"]
    return ids


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("DONE", ["done.txt"]),
        ("3", ["done.txt"]),
        ("done", ["done.txt"]),
        ("UNSTART", ["unstart.txt"]),
        ("0", ["unstart.txt"]),
        (["DONE", "FAIL"], ["done.txt", "fail.txt"]),
        (["1", "UNSTART"], ["running.txt", "unstart.txt"]),
        (["3", "DONE"], ["done.txt"]),
        ("CANCEL", []),
    ],
)
def test_list_run_filter_accepts_names_and_codes(
    alice: Account, dataset: str, runs: dict[str, str], run: Any, expected: list[str]
) -> None:
    assert sorted(listed_names(alice, dataset, run=run)) == expected


def test_list_run_names_in_output(alice: Account, dataset: str, runs: dict[str, str]) -> None:
    by_name = {doc["name"]: doc["run"] for doc in listed(alice, dataset)}
    assert by_name == {
        "unstart.txt": "UNSTART",
        "running.txt": "RUNNING",
        "done.txt": "DONE",
        "fail.txt": "FAIL",
    }


def test_list_shows_schedule_run_raw(runtime: Runtime, alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "s.txt")
    set_document(runtime, doc["id"], run="5")
    assert [d["run"] for d in listed(alice, dataset)] == ["5"]
    assert listed_names(alice, dataset, run="5") == ["s.txt"]


@pytest.mark.parametrize("run", ["bogus", "9", "SCHEDULED"])
def test_list_unknown_run_is_argument_error(alice: Account, dataset: str, run: str) -> None:
    body = list_docs(alice, dataset, run=run)
    assert body["code"] == 101
    assert body["message"].startswith("Field: <run")


def test_list_filter_by_id(alice: Account, dataset: str, five_docs: list[str]) -> None:
    docs = listed(alice, dataset, id=five_docs[2])
    assert [d["id"] for d in docs] == [five_docs[2]]
    assert list_docs(alice, dataset, id=five_docs[2])["data"]["total"] == 1


def test_list_filter_by_name_is_exact(alice: Account, dataset: str, five_docs: list[str]) -> None:
    assert listed_names(alice, dataset, name="d2.txt") == ["d2.txt"]
    assert list_docs(alice, dataset, name="d2") == {
        "code": 102,
        "message": "You don't own the document d2.",
    }


def test_list_unknown_id(alice: Account, dataset: str) -> None:
    unknown = new_id()
    assert list_docs(alice, dataset, id=unknown) == {
        "code": 102,
        "message": f"You don't own the document {unknown}.",
    }


def test_list_unknown_name(alice: Account, dataset: str) -> None:
    upload_one(alice, dataset, "a.txt")
    assert list_docs(alice, dataset, name="missing.txt") == {
        "code": 102,
        "message": "You don't own the document missing.txt.",
    }


def test_list_id_of_another_dataset_is_unknown(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    doc = upload_one(alice, first, "a.txt")
    assert list_docs(alice, second, id=doc["id"]) == {
        "code": 102,
        "message": f"You don't own the document {doc['id']}.",
    }


@pytest.mark.parametrize("param", ["id", "name"])
def test_list_empty_id_or_name_is_no_filter(
    alice: Account, dataset: str, five_docs: list[str], param: str
) -> None:
    # RAGFlow: `if document_id and ...` / `if name and ...`: an empty value filters nothing.
    body = list_docs(alice, dataset, **{param: ""})
    assert body["code"] == 0, body
    assert body["data"]["total"] == 5


def test_list_empty_metadata_condition_is_no_filter(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    # RAGFlow: `if metadata_condition_raw:` — an empty value filters nothing.
    body = list_docs(alice, dataset, metadata_condition="")
    assert body["code"] == 0, body
    assert body["data"]["total"] == 5


def test_list_existing_id_excluded_by_other_filters_is_empty_not_error(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    # RAGFlow checks that the id exists in the dataset, then applies the other filters.
    body = list_docs(alice, dataset, id=five_docs[0], suffix="pdf")
    assert body == {"code": 0, "data": {"total": 0, "docs": []}}


@pytest.mark.parametrize(
    ("params", "total", "names"),
    [
        ({"create_time_from": 2000, "create_time_to": 4000}, 3, ["d4.txt"]),
        ({"create_time_from": 3500}, 2, ["d5.txt"]),
        ({"create_time_to": 2000}, 2, ["d2.txt"]),
        ({"create_time_from": 0, "create_time_to": 0}, 5, ["d5.txt"]),
        ({"create_time_from": 6000}, 0, []),
        ({"create_time_from": 3000, "create_time_to": 3000}, 1, ["d3.txt"]),
    ],
)
def test_list_create_time_filters_apply_before_pagination(
    alice: Account,
    dataset: str,
    five_docs: list[str],
    params: dict[str, int],
    total: int,
    names: list[str],
) -> None:
    data = list_docs(alice, dataset, page_size=1, **params)["data"]
    assert data["total"] == total
    assert [d["name"] for d in data["docs"]] == names


def test_list_create_time_filter_second_page(
    alice: Account, dataset: str, five_docs: list[str]
) -> None:
    data = list_docs(alice, dataset, page=2, page_size=2, create_time_from=2000, desc="false")[
        "data"
    ]
    assert data["total"] == 4
    assert [d["name"] for d in data["docs"]] == ["d4.txt", "d5.txt"]


@pytest.mark.parametrize("param", ["create_time_from", "create_time_to"])
def test_list_bad_create_time_is_argument_error(alice: Account, dataset: str, param: str) -> None:
    body = list_docs(alice, dataset, **{param: "yesterday"})
    assert body["code"] == 101
    assert body["message"].startswith(f"Field: <{param}>")


def test_list_combined_filters(runtime: Runtime, alice: Account, dataset: str) -> None:
    body = upload(
        alice,
        dataset,
        ("report-a.pdf", PDF),
        ("report-b.txt", b"x"),
        ("report-c.pdf", PDF),
        ("other.pdf", PDF),
    )
    ids = {doc["name"]: doc["id"] for doc in body["data"]}
    set_document(runtime, ids["report-c.pdf"], run="3")
    assert listed_names(alice, dataset, keywords="report", suffix="pdf", run="UNSTART") == [
        "report-a.pdf"
    ]


@pytest.fixture
def tagged(alice: Account, dataset: str) -> dict[str, str]:
    """Three documents with meta_fields; name -> id."""
    metas = {
        "ml.txt": {"topic": "Machine Learning", "year": 2024, "tags": ["ai", "python"]},
        "db.txt": {"topic": "Databases", "year": 2019, "tags": ["sql"]},
        "bare.txt": {},
    }
    ids = {}
    for name, meta in metas.items():
        doc = upload_one(alice, dataset, name)
        assert update(alice, dataset, doc["id"], {"meta_fields": meta})["code"] == 0
        ids[name] = doc["id"]
    return ids


@pytest.mark.parametrize(
    ("metadata_condition", "expected"),
    [
        (
            condition({"name": "topic", "comparison_operator": "contains", "value": "learn"}),
            ["ml.txt"],
        ),
        (
            condition({"name": "topic", "comparison_operator": "is", "value": "databases"}),
            ["db.txt"],
        ),
        (condition({"name": "year", "comparison_operator": ">", "value": 2020}), ["ml.txt"]),
        (condition({"name": "year", "comparison_operator": "≤", "value": "2019"}), ["db.txt"]),
        (condition({"name": "tags", "comparison_operator": "contains", "value": "PY"}), ["ml.txt"]),
        (
            condition({"name": "topic", "comparison_operator": "in", "value": ["Databases", "x"]}),
            ["db.txt"],
        ),
        (
            condition(
                {"name": "topic", "comparison_operator": "contains", "value": "learn"},
                {"name": "year", "comparison_operator": "<", "value": 2000},
                logic="or",
            ),
            ["ml.txt"],
        ),
        (
            condition(
                {"name": "year", "comparison_operator": "<", "value": 2000},
                {"name": "topic", "comparison_operator": "contains", "value": "data"},
                logic="or",
            ),
            ["db.txt"],
        ),
        (
            condition(
                {"name": "topic", "comparison_operator": "contains", "value": "a"},
                {"name": "year", "comparison_operator": "=", "value": 2019},
            ),
            ["db.txt"],
        ),
        (condition({"name": "topic", "comparison_operator": "empty"}), ["bare.txt"]),
        (
            condition({"name": "topic", "comparison_operator": "not empty"}),
            ["db.txt", "ml.txt"],
        ),
        (condition(), ["bare.txt", "db.txt", "ml.txt"]),
    ],
)
def test_list_metadata_condition(
    alice: Account,
    dataset: str,
    tagged: dict[str, str],
    metadata_condition: str,
    expected: list[str],
) -> None:
    body = list_docs(alice, dataset, metadata_condition=metadata_condition)
    assert body["code"] == 0, body
    assert sorted(d["name"] for d in body["data"]["docs"]) == expected
    assert body["data"]["total"] == len(expected)


def test_list_metadata_condition_contains_is_field_contains_value(
    alice: Account, dataset: str, tagged: dict[str, str]
) -> None:
    # RAGFlow would test "Machine Learning" in "Machine Learning and more" (reverse semantics).
    cond = condition(
        {"name": "topic", "comparison_operator": "contains", "value": "Machine Learning and more"}
    )
    assert list_docs(alice, dataset, metadata_condition=cond) == {
        "code": 0,
        "data": {"total": 0, "docs": []},
    }


@pytest.mark.parametrize("raw", ["{not json", "{'logic': 'and'}", "[1,", '{"logic": }'])
def test_list_metadata_condition_bad_json(alice: Account, dataset: str, raw: str) -> None:
    assert list_docs(alice, dataset, metadata_condition=raw) == {
        "code": 102,
        "message": "metadata_condition must be valid JSON.",
    }


@pytest.mark.parametrize("raw", ["[]", "[1, 2]", '"text"', "3", "true"])
def test_list_metadata_condition_must_be_object(alice: Account, dataset: str, raw: str) -> None:
    assert list_docs(alice, dataset, metadata_condition=raw) == {
        "code": 102,
        "message": "metadata_condition must be an object.",
    }


@pytest.mark.parametrize(
    ("cond", "fragment"),
    [
        (
            condition({"name": "a", "comparison_operator": "foo", "value": 1}),
            "metadata_condition.conditions[0]: unknown comparison_operator 'foo'",
        ),
        (
            condition({"comparison_operator": "is", "value": 1}),
            "metadata_condition.conditions[0]",
        ),
        (
            condition({"name": "a", "value": 1}),
            "metadata_condition.conditions[0]",
        ),
        (
            condition({"name": "a", "comparison_operator": "is"}),
            "metadata_condition.conditions[0]",
        ),
        ('{"logic": "xor", "conditions": []}', "metadata_condition.logic"),
        ('{"conditions": "x"}', "metadata_condition.conditions"),
    ],
)
def test_list_bad_metadata_condition_is_argument_error(
    alice: Account, dataset: str, cond: str, fragment: str
) -> None:
    body = list_docs(alice, dataset, metadata_condition=cond)
    assert body["code"] == 101
    assert body["message"].startswith(fragment)


def test_list_of_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert list_docs(alice, unknown) == {
        "code": 102,
        "message": f"You don't own the dataset {unknown}. ",
    }


def test_list_of_another_tenants_dataset(alice: Account, bob_doc: tuple[str, str]) -> None:
    dataset_id, _ = bob_doc
    assert list_docs(alice, dataset_id) == {
        "code": 102,
        "message": f"You don't own the dataset {dataset_id}. ",
    }
