"""``/api/v1/datasets/{id}/metadata/summary`` and ``/metadata/update``."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Account


@pytest.fixture
def dataset(alice: Account) -> dict[str, Any]:
    """A dataset with three documents carrying metadata: ids by name under ``docs``."""
    client, headers = alice.client, alice.api_headers
    dataset_id = client.post("/api/v1/datasets", json={"name": "m"}, headers=headers).json()[
        "data"
    ]["id"]
    files = [("file", (f"{name}.txt", b"x")) for name in ("a", "b", "c")]
    uploaded = client.post(f"/api/v1/datasets/{dataset_id}/documents", files=files, headers=headers)
    docs = {doc["name"][0]: doc["id"] for doc in uploaded.json()["data"]}
    meta = {
        "a": {"author": "ann", "year": 2020, "tags": ["x", "y"]},
        "b": {"author": "ann", "year": 2021, "tags": ["y"]},
        "c": {"author": "cid", "published": "2024-01-02T03:04:05"},
    }
    for name, fields in meta.items():
        response = client.put(
            f"/api/v1/datasets/{dataset_id}/documents/{docs[name]}",
            json={"meta_fields": fields},
            headers=headers,
        )
        assert response.json()["code"] == 0
    return {"id": dataset_id, "docs": docs}


def summary(alice: Account, dataset_id: str, body: Any = None) -> dict[str, Any]:
    response = alice.client.request(
        "GET",
        f"/api/v1/datasets/{dataset_id}/metadata/summary",
        json=body,
        headers=alice.api_headers,
    )
    result: dict[str, Any] = response.json()
    return result


def update(alice: Account, dataset_id: str, body: Any) -> dict[str, Any]:
    response = alice.client.post(
        f"/api/v1/datasets/{dataset_id}/metadata/update", json=body, headers=alice.api_headers
    )
    result: dict[str, Any] = response.json()
    return result


def meta_of(alice: Account, dataset_id: str) -> dict[str, Any]:
    docs = alice.client.get(
        f"/api/v1/datasets/{dataset_id}/documents", headers=alice.api_headers
    ).json()["data"]["docs"]
    return {doc["name"][0]: doc["meta_fields"] for doc in docs}


def test_summary(alice: Account, dataset: dict[str, Any]) -> None:
    result = summary(alice, dataset["id"])
    assert result["code"] == 0
    assert result["data"]["summary"] == {
        "author": {"type": "string", "values": [["ann", 2], ["cid", 1]]},
        "year": {"type": "number", "values": [["2020", 1], ["2021", 1]]},
        "tags": {"type": "list", "values": [["y", 2], ["x", 1]]},
        "published": {"type": "time", "values": [["2024-01-02T03:04:05", 1]]},
    }


def test_summary_of_selected_documents(alice: Account, dataset: dict[str, Any]) -> None:
    result = summary(alice, dataset["id"], {"doc_ids": [dataset["docs"]["c"]]})
    assert set(result["data"]["summary"]) == {"author", "published"}
    bad = summary(alice, dataset["id"], {"doc_ids": "x"})
    assert bad == {"code": 101, "message": "`doc_ids` must be a list of strings."}


def test_update_by_ids(alice: Account, dataset: dict[str, Any]) -> None:
    body = {
        "selector": {"document_ids": [dataset["docs"]["a"], dataset["docs"]["c"]]},
        "updates": [{"key": "reviewed", "value": True}],
        "deletes": [{"key": "tags", "value": "x"}],
    }
    assert update(alice, dataset["id"], body) == {
        "code": 0,
        "data": {"updated": 2, "matched_docs": 2},
    }
    meta = meta_of(alice, dataset["id"])
    assert meta["a"] == {"author": "ann", "year": 2020, "tags": ["y"], "reviewed": True}
    assert meta["b"] == {"author": "ann", "year": 2021, "tags": ["y"]}
    assert meta["c"]["reviewed"] is True


def test_update_by_condition_and_all_documents(alice: Account, dataset: dict[str, Any]) -> None:
    condition = {"conditions": [{"name": "author", "comparison_operator": "is", "value": "ANN"}]}
    body = {
        "selector": {"metadata_condition": condition},
        "updates": [{"key": "author", "value": "anne"}],
    }
    assert update(alice, dataset["id"], body)["data"] == {"updated": 2, "matched_docs": 2}
    everything = update(alice, dataset["id"], {"deletes": [{"key": "year"}]})
    assert everything["data"] == {"updated": 2, "matched_docs": 3}
    meta = meta_of(alice, dataset["id"])
    assert [meta[name]["author"] for name in "abc"] == ["anne", "anne", "cid"]
    assert not any("year" in fields for fields in meta.values())


def test_update_with_match(alice: Account, dataset: dict[str, Any]) -> None:
    body = {"updates": [{"key": "tags", "value": "z", "match": "y"}]}
    assert update(alice, dataset["id"], body)["data"] == {"updated": 2, "matched_docs": 3}
    meta = meta_of(alice, dataset["id"])
    assert meta["a"]["tags"] == ["x", "z"] and meta["b"]["tags"] == ["z"]
    assert "tags" not in meta["c"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"selector": []}, "selector must be an object."),
        ({"updates": {}}, "updates and deletes must be lists."),
        ({"selector": {"metadata_condition": "x"}}, "metadata_condition must be an object."),
        ({"selector": {"document_ids": "x"}}, "document_ids must be a list."),
        ({"updates": [{"key": "k"}]}, "Each update requires key and value."),
        ({"updates": [{"key": "", "value": 1}]}, "Each update requires key and value."),
        ({"deletes": [{"value": 1}]}, "Each delete requires key."),
    ],
)
def test_update_validation(
    alice: Account, dataset: dict[str, Any], body: Any, message: str
) -> None:
    assert update(alice, dataset["id"], body) == {"code": 102, "message": message}


def test_update_unknown_documents(alice: Account, dataset: dict[str, Any]) -> None:
    body = {
        "selector": {"document_ids": ["nope", dataset["docs"]["a"]]},
        "deletes": [{"key": "author"}],
    }
    assert update(alice, dataset["id"], body) == {
        "code": 102,
        "message": f"These documents do not belong to dataset {dataset['id']}: nope",
    }
    assert meta_of(alice, dataset["id"])["a"]["author"] == "ann"


def test_bad_condition_is_an_argument_error(alice: Account, dataset: dict[str, Any]) -> None:
    condition = {"conditions": [{"name": "a", "comparison_operator": "bogus", "value": 1}]}
    result = update(alice, dataset["id"], {"selector": {"metadata_condition": condition}})
    assert result["code"] == 101 and "bogus" in result["message"]


def test_another_tenants_dataset_is_unknown(
    alice: Account, bob: Account, dataset: dict[str, Any]
) -> None:
    message = f"You don't own the dataset {dataset['id']}. "
    assert summary(bob, dataset["id"]) == {"code": 102, "message": message}
    assert update(bob, dataset["id"], {"deletes": [{"key": "author"}]}) == {
        "code": 102,
        "message": message,
    }
    unknown = "0" * 32
    assert summary(bob, unknown) == {
        "code": 102,
        "message": f"You don't own the dataset {unknown}. ",
    }
    assert meta_of(alice, dataset["id"])["a"]["author"] == "ann"
