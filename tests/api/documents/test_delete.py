"""Deleting documents, and the dataset's document_count."""

from __future__ import annotations

from typing import Any

import pytest

from api.documents.support import (
    EXE,
    MALFORMED_JSON,
    blob_key,
    delete,
    docs_url,
    download,
    get_dataset,
    list_docs,
    listed_names,
    make_dataset,
    new_id,
    update,
    upload,
    upload_one,
)
from conftest import Account
from ragserve.runtime import Runtime

# --------------------------------------------------------------------------------------------
# delete


def test_delete_some_documents(runtime: Runtime, alice: Account, dataset: str) -> None:
    body = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))
    ids = {doc["name"]: doc["id"] for doc in body["data"]}
    assert delete(alice, dataset, {"ids": [ids["a.txt"], ids["c.txt"]]}) == {"code": 0}
    assert listed_names(alice, dataset) == ["b.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, ids["a.txt"]))
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, ids["c.txt"]))
    assert runtime.blobs.exists(blob_key(alice.id, dataset, ids["b.txt"]))


@pytest.mark.parametrize("body", [None, {}, {"ids": None}, {"ids": []}, {"other": 1}])
def test_delete_without_ids_deletes_every_document(
    runtime: Runtime, alice: Account, dataset: str, body: Any
) -> None:
    other = make_dataset(alice)
    kept = upload_one(alice, other, "kept.txt")
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    assert delete(alice, dataset, body) == {"code": 0}
    assert list_docs(alice, dataset)["data"] == {"total": 0, "docs": []}
    for doc in docs:
        assert not runtime.blobs.exists(blob_key(alice.id, dataset, doc["id"]))
    assert listed_names(alice, other) == ["kept.txt"]
    assert runtime.blobs.exists(blob_key(alice.id, other, kept["id"]))


def test_delete_all_of_an_empty_dataset(alice: Account, dataset: str) -> None:
    assert delete(alice, dataset, {"ids": []}) == {"code": 0}


def test_delete_unknown_ids_still_deletes_the_others(
    runtime: Runtime, alice: Account, dataset: str
) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    unknown = new_id()
    body = delete(alice, dataset, {"ids": [docs[0]["id"], unknown]})
    assert body == {"code": 102, "message": f"Documents not found: ['{unknown}']"}
    assert listed_names(alice, dataset) == ["b.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, docs[0]["id"]))


def test_delete_lists_every_unknown_id_in_order(alice: Account, dataset: str) -> None:
    first, second = new_id(), new_id()
    assert delete(alice, dataset, {"ids": [first, second]}) == {
        "code": 102,
        "message": f"Documents not found: ['{first}', '{second}']",
    }


def test_delete_ids_of_another_dataset_are_not_found_and_kept(
    runtime: Runtime, alice: Account
) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    mine = upload_one(alice, first, "mine.txt")
    elsewhere = upload_one(alice, second, "elsewhere.txt")
    body = delete(alice, first, {"ids": [mine["id"], elsewhere["id"]]})
    assert body == {"code": 102, "message": f"Documents not found: ['{elsewhere['id']}']"}
    assert listed_names(alice, first) == []
    assert listed_names(alice, second) == ["elsewhere.txt"]
    assert runtime.blobs.exists(blob_key(alice.id, second, elsewhere["id"]))


def test_delete_duplicate_ids(runtime: Runtime, alice: Account, dataset: str) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))["data"]
    a, b = docs[0]["id"], docs[1]["id"]
    body = delete(alice, dataset, {"ids": [a, b, a, a]})
    assert body == {
        "code": 0,
        "data": {"success_count": 2, "errors": [f"Duplicate document ids: {a}"]},
    }
    assert listed_names(alice, dataset) == ["c.txt"]
    assert not runtime.blobs.exists(blob_key(alice.id, dataset, a))


def test_delete_several_duplicates(alice: Account, dataset: str) -> None:
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"))["data"]
    a, b = docs[0]["id"], docs[1]["id"]
    body = delete(alice, dataset, {"ids": [b, a, b, a]})
    assert body == {
        "code": 0,
        "data": {
            "success_count": 2,
            "errors": [f"Duplicate document ids: {b}", f"Duplicate document ids: {a}"],
        },
    }


def test_delete_duplicate_unknown_id_is_not_found(alice: Account, dataset: str) -> None:
    unknown = new_id()
    assert delete(alice, dataset, {"ids": [unknown, unknown]}) == {
        "code": 102,
        "message": f"Documents not found: ['{unknown}']",
    }


@pytest.mark.parametrize("ids", ["abc", 5, {"id": "x"}, [1, 2]])
def test_delete_ids_must_be_a_list_of_strings(alice: Account, dataset: str, ids: Any) -> None:
    upload_one(alice, dataset, "a.txt")
    body = delete(alice, dataset, {"ids": ids})
    assert body["code"] == 101
    assert body["message"].startswith("Field: <ids")
    assert listed_names(alice, dataset) == ["a.txt"]


def test_deleted_document_is_gone_everywhere(alice: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    assert delete(alice, dataset, {"ids": [doc["id"]]}) == {"code": 0}
    assert download(alice, dataset, doc["id"]).json()["code"] == 102
    assert update(alice, dataset, doc["id"], {"name": "b.txt"}) == {
        "code": 102,
        "message": "The dataset doesn't own the document.",
    }
    assert list_docs(alice, dataset, id=doc["id"])["code"] == 102
    assert delete(alice, dataset, {"ids": [doc["id"]]}) == {
        "code": 102,
        "message": f"Documents not found: ['{doc['id']}']",
    }
    # the name is free again
    assert upload_one(alice, dataset, "a.txt")["name"] == "a.txt"


def test_delete_in_unknown_dataset(alice: Account) -> None:
    unknown = new_id()
    assert delete(alice, unknown, {"ids": []}) == {
        "code": 102,
        "message": f"You don't own the dataset {unknown}. ",
    }


def test_delete_in_another_tenants_dataset(
    runtime: Runtime, alice: Account, bob: Account, bob_doc: tuple[str, str]
) -> None:
    dataset_id, document_id = bob_doc
    bodies: list[dict[str, Any] | None] = [{"ids": [document_id]}, {"ids": []}, None]
    for body in bodies:
        assert delete(alice, dataset_id, body) == {
            "code": 102,
            "message": f"You don't own the dataset {dataset_id}. ",
        }
    assert listed_names(bob, dataset_id) == ["secret.txt"]
    assert runtime.blobs.exists(blob_key(bob.id, dataset_id, document_id))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{bad json", MALFORMED_JSON),
        (b'{"ids": ["a",]}', MALFORMED_JSON),
        (b"[]", "Invalid request payload: expected object, got list"),
        (b"null", "Invalid request payload: expected object, got NoneType"),
    ],
)
def test_delete_malformed_json_deletes_nothing(
    alice: Account, dataset: str, raw: bytes, message: str
) -> None:
    upload_one(alice, dataset, "a.txt")
    response = alice.client.request(
        "DELETE",
        docs_url(dataset),
        content=raw,
        headers={**alice.api_headers, "Content-Type": "application/json"},
    )
    assert response.json() == {"code": 101, "message": message}
    assert listed_names(alice, dataset) == ["a.txt"]


# --------------------------------------------------------------------------------------------
# document_count on the dataset


def test_document_count_follows_uploads_and_deletes(alice: Account, dataset: str) -> None:
    assert get_dataset(alice, dataset)["document_count"] == 0
    docs = upload(alice, dataset, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))["data"]
    assert get_dataset(alice, dataset)["document_count"] == 3
    upload(alice, dataset, ("bad.exe", EXE))
    assert get_dataset(alice, dataset)["document_count"] == 3
    delete(alice, dataset, {"ids": [docs[0]["id"]]})
    assert get_dataset(alice, dataset)["document_count"] == 2
    delete(alice, dataset, {})
    assert get_dataset(alice, dataset)["document_count"] == 0


def test_document_count_is_per_dataset(alice: Account) -> None:
    first, second = make_dataset(alice), make_dataset(alice)
    upload(alice, first, ("a.txt", b"a"), ("b.txt", b"b"))
    upload(alice, second, ("c.txt", b"c"))
    assert get_dataset(alice, first)["document_count"] == 2
    assert get_dataset(alice, second)["document_count"] == 1
