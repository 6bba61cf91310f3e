"""Updating documents: names, metadata, chunk methods, parser_config."""

from __future__ import annotations

from typing import Any

import pytest

from api.documents.support import (
    DOCUMENT_KEYS,
    MALFORMED_JSON,
    PDF,
    PNG,
    ZIP,
    docs_url,
    get_dataset,
    listed_names,
    make_dataset,
    new_id,
    one_doc,
    set_document,
    update,
    upload_one,
)
from conftest import Account
from ragserve.runtime import Runtime

# --------------------------------------------------------------------------------------------
# update


def test_update_returns_the_document_object(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"meta_fields": {"k": "v"}})
    assert set(body) == {"code", "data"}
    assert body["code"] == 0
    assert set(body["data"]) == DOCUMENT_KEYS
    assert body["data"]["id"] == doc["id"]
    assert body["data"]["meta_fields"] == {"k": "v"}
    assert body["data"]["run"] == "UNSTART"


def test_update_empty_body_changes_nothing(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    before = one_doc(alice, dataset, doc["id"])
    body = update(alice, dataset, doc["id"], {})
    assert body["code"] == 0
    for key in ("name", "chunk_method", "parser_config", "meta_fields", "status", "run"):
        assert body["data"][key] == before[key]


def test_update_ignores_unknown_keys(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"whatever": 1, "id": "x", "dataset_id": "y"})
    assert body["code"] == 0
    assert body["data"]["id"] == doc["id"]
    assert body["data"]["dataset_id"] == dataset


def test_update_unknown_dataset(alice: Account) -> None:
    assert update(alice, new_id(), new_id(), {"name": "x.txt"}) == {
        "code": 102,
        "message": "You don't own the dataset.",
    }


def test_update_another_tenants_dataset(alice: Account, bob: Account, bob_doc: Any) -> None:
    dataset_id, document_id = bob_doc
    assert update(alice, dataset_id, document_id, {"name": "stolen.txt"}) == {
        "code": 102,
        "message": "You don't own the dataset.",
    }
    assert listed_names(bob, dataset_id) == ["secret.txt"]


def test_update_unknown_document(alice: Account, dataset: str) -> None:
    assert update(alice, dataset, new_id(), {"name": "x.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }


def test_update_document_of_another_dataset(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    doc = upload_one(alice, first, "a.txt")
    assert update(alice, second, doc["id"], {"name": "b.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }
    assert listed_names(alice, first) == ["a.txt"]


@pytest.fixture
def parsed_doc(runtime: Runtime, alice: Account, dataset: str) -> str:
    """A document that looks parsed: run DONE, progress 1, counts set."""
    doc = upload_one(alice, dataset, "parsed.txt")
    set_document(
        runtime,
        doc["id"],
        run="3",
        progress=1.0,
        progress_msg="done",
        chunk_count=4,
        token_count=120,
    )
    return str(doc["id"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("chunk_count", 5),
        ("chunk_count", 0),
        ("chunk_count", "4"),
        ("token_count", 121),
        ("token_count", None),
        ("progress", 0.5),
        ("progress", 0),
    ],
)
def test_update_read_only_fields_cannot_change(
    alice: Account, dataset: str, parsed_doc: str, field: str, value: Any
) -> None:
    assert update(alice, dataset, parsed_doc, {field: value}) == {
        "code": 102,
        "message": f"Can't change `{field}`.",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"chunk_count": 4},
        {"token_count": 120},
        {"progress": 1.0},
        {"progress": 1},
        {"chunk_count": 4, "token_count": 120, "progress": 1.0},
    ],
)
def test_update_read_only_fields_with_equal_values_are_fine(
    alice: Account, dataset: str, parsed_doc: str, body: dict[str, Any]
) -> None:
    result = update(alice, dataset, parsed_doc, body)
    assert result["code"] == 0, result
    assert result["data"]["chunk_count"] == 4
    assert result["data"]["token_count"] == 120
    assert result["data"]["progress"] == 1.0


def test_update_meta_fields_replace_the_whole_object(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    update(alice, dataset, doc["id"], {"meta_fields": {"a": 1, "b": [1, 2]}})
    body = update(alice, dataset, doc["id"], {"meta_fields": {"c": "x"}})
    assert body["data"]["meta_fields"] == {"c": "x"}
    assert one_doc(alice, dataset, doc["id"])["meta_fields"] == {"c": "x"}
    assert update(alice, dataset, doc["id"], {"meta_fields": {}})["data"]["meta_fields"] == {}


@pytest.mark.parametrize("value", ["x", [1, 2], None, 3, True])
def test_update_meta_fields_must_be_a_dict(alice: Account, dataset: str, value: Any) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"meta_fields": value}) == {
        "code": 102,
        "message": "meta_fields must be a dictionary",
    }


def test_update_rename(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "old.txt")
    body = update(alice, dataset, doc["id"], {"name": "new.txt"})
    assert body["code"] == 0
    assert body["data"]["name"] == body["data"]["location"] == "new.txt"
    listed_doc = one_doc(alice, dataset, doc["id"])
    assert listed_doc["name"] == listed_doc["location"] == "new.txt"
    # the old name is free again
    assert upload_one(alice, dataset, "old.txt")["name"] == "old.txt"


def test_update_rename_to_the_same_name(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "same.txt")
    assert update(alice, dataset, doc["id"], {"name": "same.txt"})["code"] == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a.txt", "a.pdf"),
        ("a.txt", "a"),
        ("a.txt", ""),
        ("a.txt", "a.txt.pdf"),
        ("a.txt", "txt"),
        ("README", "README.txt"),
        ("README", ""),
        ("a.tar.txt", "a.tar"),
    ],
)
def test_update_rename_cannot_change_the_extension(
    alice: Account, dataset: str, old: str, new: str
) -> None:
    doc = upload_one(alice, dataset, old, b"plain text")
    assert update(alice, dataset, doc["id"], {"name": new}) == {
        "code": 101,
        "message": "The extension of file can't be changed",
    }
    assert listed_names(alice, dataset) == [old]


@pytest.mark.parametrize(
    ("old", "new"),
    [("a.txt", "b.TXT"), ("a.PDF", "b.pdf"), ("README", "LICENSE"), ("a.b.txt", "c.txt")],
)
def test_update_rename_extension_compare_ignores_case(
    alice: Account, dataset: str, old: str, new: str
) -> None:
    content = PDF if old.lower().endswith(".pdf") else b"text"
    doc = upload_one(alice, dataset, old, content)
    body = update(alice, dataset, doc["id"], {"name": new})
    assert body["code"] == 0, body
    assert body["data"]["name"] == new


def test_update_rename_to_a_taken_name(alice: Account, dataset: str) -> None:
    upload_one(alice, dataset, "a.txt")
    doc = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, doc["id"], {"name": "a.txt"}) == {
        "code": 102,
        "message": "Duplicated document name in the same dataset.",
    }
    assert sorted(listed_names(alice, dataset)) == ["a.txt", "b.txt"]


def test_update_rename_to_a_name_taken_in_another_dataset(alice: Account, dataset: str) -> None:
    other = make_dataset(alice)
    upload_one(alice, other, "a.txt")
    doc = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, doc["id"], {"name": "a.txt"})["code"] == 0


def test_update_rename_changing_only_case_is_allowed(alice: Account, dataset: str) -> None:
    first = upload_one(alice, dataset, "a.txt")
    second = upload_one(alice, dataset, "b.txt")
    assert update(alice, dataset, first["id"], {"name": "A.txt"})["data"]["name"] == "A.txt"
    assert update(alice, dataset, second["id"], {"name": "a.txt"})["data"]["name"] == "a.txt"
    assert sorted(listed_names(alice, dataset)) == ["A.txt", "a.txt"]


@pytest.mark.parametrize("name", [5, None, ["a.txt"], {"n": "a.txt"}, True])
def test_update_name_must_be_a_string(alice: Account, dataset: str, name: Any) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": name}) == {
        "code": 101,
        "message": "`name` must be a string.",
    }


@pytest.mark.parametrize("name", ["a" * 252 + ".txt", "é" * 126 + ".txt"])
def test_update_name_over_255_bytes(alice: Account, dataset: str, name: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": name}) == {
        "code": 101,
        "message": "File name must be 255 bytes or less.",
    }


def test_update_name_of_255_bytes_is_fine(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    name = "é" * 125 + "x.txt"
    assert len(name.encode()) == 255
    assert update(alice, dataset, doc["id"], {"name": name})["data"]["name"] == name


def test_update_unicode_rename(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"name": "文档 📄.txt"})["data"]["name"] == (
        "文档 📄.txt"
    )
    assert listed_names(alice, dataset, name="文档 📄.txt") == ["文档 📄.txt"]


def test_update_failed_request_changes_nothing(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = {"meta_fields": {"k": "v"}, "enabled": False, "name": "a.pdf"}
    assert update(alice, dataset, doc["id"], body)["code"] == 101
    current = one_doc(alice, dataset, doc["id"])
    assert current["meta_fields"] == {}
    assert current["status"] == "1"
    assert current["name"] == "a.txt"


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("xyz", "`chunk_method` xyz doesn't exist"),
        ("", "`chunk_method`  doesn't exist"),
        ("audio", "`chunk_method` audio doesn't exist"),
        ("resume", "`chunk_method` resume doesn't exist"),
        ("NAIVE", "`chunk_method` NAIVE doesn't exist"),
        (5, "`chunk_method` 5 doesn't exist"),
    ],
)
def test_update_unknown_chunk_method(
    alice: Account, dataset: str, method: Any, message: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"chunk_method": method}) == {
        "code": 102,
        "message": message,
    }


@pytest.mark.parametrize(
    ("name", "content", "method"),
    [
        ("photo.png", PNG, "naive"),
        ("photo.png", PNG, "picture"),
        ("scan", PNG, "one"),
        ("clip.mp4", bytes(8), "naive"),
        ("slides.pptx", ZIP, "naive"),
        ("slides.ppt", bytes(8), "presentation"),
        ("deck.pages", ZIP, "book"),
    ],
)
def test_update_chunk_method_of_pictures_and_slides_is_not_supported(
    alice: Account, dataset: str, name: str, content: bytes, method: str
) -> None:
    doc = upload_one(alice, dataset, name, content)
    assert update(alice, dataset, doc["id"], {"chunk_method": method}) == {
        "code": 102,
        "message": "Not supported yet!",
    }
    assert one_doc(alice, dataset, doc["id"])["chunk_method"] == doc["chunk_method"]


def test_update_chunk_method_resets_the_parse_state(
    alice: Account, dataset: str, parsed_doc: str
) -> None:
    body = update(alice, dataset, parsed_doc, {"chunk_method": "qa"})
    assert body["code"] == 0, body
    doc = body["data"]
    assert doc["chunk_method"] == "qa"
    assert doc["run"] == "UNSTART"
    assert doc["progress"] == 0.0
    assert doc["progress_msg"] == ""
    listed_doc = one_doc(alice, dataset, parsed_doc)
    assert (listed_doc["chunk_method"], listed_doc["run"], listed_doc["progress"]) == (
        "qa",
        "UNSTART",
        0.0,
    )


def test_update_same_chunk_method_keeps_the_parse_state(
    alice: Account, dataset: str, parsed_doc: str
) -> None:
    before = one_doc(alice, dataset, parsed_doc)
    doc = update(alice, dataset, parsed_doc, {"chunk_method": "naive"})["data"]
    assert (doc["run"], doc["progress"], doc["chunk_count"]) == ("DONE", 1.0, 4)
    assert doc["parser_config"] == before["parser_config"]


def test_update_chunk_method_merges_the_method_defaults(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    original = doc["parser_config"]
    config = update(alice, dataset, doc["id"], {"chunk_method": "qa"})["data"]["parser_config"]
    assert config["raptor"]["use_raptor"] is False
    assert config["graphrag"]["use_graphrag"] is False
    # merged, not replaced: keys of the old config survive
    assert config["raptor"]["prompt"] == original["raptor"]["prompt"]
    assert config["graphrag"]["entity_types"] == original["graphrag"]["entity_types"]
    assert config["chunk_token_num"] == original["chunk_token_num"]
    assert config["llm_id"] == original["llm_id"]
    assert config["table_context_size"] == 0


def test_update_chunk_method_to_knowledge_graph_defaults(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(alice, dataset, doc["id"], {"chunk_method": "knowledge_graph"})
    config = body["data"]["parser_config"]
    assert config["chunk_token_num"] == 8192
    assert config["delimiter"] == "\\n"
    assert config["entity_types"] == ["organization", "person", "location", "event", "time"]
    assert config["raptor"]["use_raptor"] is False


def test_update_chunk_method_with_parser_config_skips_the_defaults(
    alice: Account, dataset: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = update(
        alice, dataset, doc["id"], {"chunk_method": "qa", "parser_config": {"chunk_token_num": 99}}
    )
    config = body["data"]["parser_config"]
    assert body["data"]["chunk_method"] == "qa"
    assert config["chunk_token_num"] == 99
    assert "raptor" not in config  # the qa default was not merged in; the patch dropped it


def test_update_parser_config_is_deep_merged(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    original = doc["parser_config"]
    patch = {"raptor": {"max_token": 100}, "chunk_token_num": 1024, "extra_key": "x"}
    config = update(alice, dataset, doc["id"], {"parser_config": patch})["data"]["parser_config"]
    assert config["raptor"] == {**original["raptor"], "max_token": 100}
    assert config["chunk_token_num"] == 1024
    assert config["extra_key"] == "x"
    assert config["graphrag"] == original["graphrag"]
    assert config["delimiter"] == original["delimiter"]
    assert one_doc(alice, dataset, doc["id"])["parser_config"] == config


def test_update_parser_config_must_be_a_dict(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert update(alice, dataset, doc["id"], {"parser_config": "x"}) == {
        "code": 102,
        "message": "parser_config must be a dictionary",
    }


def test_update_parser_config_does_not_touch_the_dataset(alice: Account, dataset: str) -> None:
    before = get_dataset(alice, dataset)["parser_config"]
    doc = upload_one(alice, dataset, "a.txt")
    update(alice, dataset, doc["id"], {"parser_config": {"chunk_token_num": 3}})
    assert get_dataset(alice, dataset)["parser_config"] == before
    assert upload_one(alice, dataset, "b.txt")["parser_config"] == before


@pytest.mark.parametrize(("enabled", "status"), [(False, "0"), (0, "0"), (True, "1"), (1, "1")])
def test_update_enabled_sets_status(
    alice: Account, dataset: str, enabled: Any, status: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    if status == "1":
        update(alice, dataset, doc["id"], {"enabled": False})
    assert update(alice, dataset, doc["id"], {"enabled": enabled})["data"]["status"] == status
    assert one_doc(alice, dataset, doc["id"])["status"] == status


def test_update_run_schedule_is_shown_as_null(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    set_document(runtime, doc["id"], run="5")
    assert update(alice, dataset, doc["id"], {})["data"]["run"] is None


def test_update_several_fields_at_once(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    body = {
        "name": "b.txt",
        "meta_fields": {"author": "alice"},
        "chunk_method": "manual",
        "enabled": False,
    }
    data = update(alice, dataset, doc["id"], body)["data"]
    assert (data["name"], data["meta_fields"], data["chunk_method"], data["status"]) == (
        "b.txt",
        {"author": "alice"},
        "manual",
        "0",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{bad json", MALFORMED_JSON),
        (
            b'{"name": "a.txt",}',
            MALFORMED_JSON,
        ),
        (b"\xff\xfe{}", MALFORMED_JSON),
        (b"[1, 2]", "Invalid request payload: expected object, got list"),
        (b'"name"', "Invalid request payload: expected object, got str"),
    ],
)
def test_update_malformed_json(alice: Account, dataset: str, raw: bytes, message: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    response = alice.client.put(
        docs_url(dataset, doc["id"]),
        content=raw,
        headers={**alice.api_headers, "Content-Type": "application/json"},
    )
    assert response.json() == {"code": 101, "message": message}
