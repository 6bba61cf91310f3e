"""Another tenant's ids look exactly like unknown ids; auth; renames."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.documents.support import (
    ENDPOINTS,
    blob_key,
    call,
    docs_url,
    download,
    list_docs,
    listed_names,
    new_id,
    one_doc,
    update,
    upload,
    upload_one,
    without,
)
from conftest import Account
from ragserve.runtime import Runtime

# --------------------------------------------------------------------------------------------
# isolation: bob's ids look exactly like unknown ids to alice


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_tenants_dataset_looks_unknown(
    runtime: Runtime, alice: Account, bob: Account, bob_doc: tuple[str, str], endpoint: str
) -> None:
    bob_dataset, bob_document = bob_doc
    unknown_dataset, unknown_document = new_id(), new_id()
    seen = call(alice, endpoint, bob_dataset, bob_document)
    expected = call(alice, endpoint, unknown_dataset, unknown_document)
    assert seen["code"] == expected["code"] != 0
    assert set(seen) == set(expected)
    assert without(seen["message"], bob_dataset, bob_document) == without(
        expected["message"], unknown_dataset, unknown_document
    )
    # and bob's document is untouched
    assert listed_names(bob, bob_dataset) == ["secret.txt"]
    assert runtime.blobs.read(blob_key(bob.id, bob_dataset, bob_document)) == b"bob's secret"


@pytest.mark.parametrize("endpoint", ["list_by_id", "download", "update", "delete"])
def test_another_tenants_document_in_own_dataset_looks_unknown(
    runtime: Runtime,
    alice: Account,
    bob: Account,
    dataset: str,
    bob_doc: tuple[str, str],
    endpoint: str,
) -> None:
    bob_dataset, bob_document = bob_doc
    upload_one(alice, dataset, "mine.txt")
    unknown = new_id()
    seen = call(alice, endpoint, dataset, bob_document)
    expected = call(alice, endpoint, dataset, unknown)
    assert seen["code"] == expected["code"] == 102
    assert set(seen) == set(expected)
    assert without(seen["message"], bob_document) == without(expected["message"], unknown)
    assert listed_names(bob, bob_dataset) == ["secret.txt"]
    assert runtime.blobs.exists(blob_key(bob.id, bob_dataset, bob_document))


def test_bob_does_not_see_alices_documents(alice: Account, bob: Account, dataset: str) -> None:
    doc = upload_one(alice, dataset, "alice.txt", b"alice only")
    assert list_docs(bob, dataset)["code"] == 102
    assert download(bob, dataset, doc["id"]).json()["code"] == 102
    assert b"alice only" not in download(bob, dataset, doc["id"]).content


# --------------------------------------------------------------------------------------------
# authentication


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_needs_an_api_key(
    client: TestClient, alice: Account, dataset: str, endpoint: str
) -> None:
    doc = upload_one(alice, dataset, "a.txt")
    stranger = Account.__new__(Account)
    stranger.client = client
    stranger.api_key = "ragflow-not-a-real-token-000000000000"
    body = call(stranger, endpoint, dataset, doc["id"])
    assert body["code"] == 109
    assert body["message"] == "Authentication error: API key is invalid!"
    assert listed_names(alice, dataset) == ["a.txt"]


def test_web_session_token_is_not_an_api_key(alice: Account, dataset: str) -> None:
    response = alice.client.get(docs_url(dataset), headers=alice.web_headers)
    assert response.json()["code"] == 109


@pytest.mark.parametrize("name", ["../x.txt", "dir/x.txt", "dir\\x.txt", " x.txt"])
def test_rename_refuses_paths(alice: Account, dataset: str, name: str) -> None:
    document_id = upload_one(alice, dataset, "a.txt", b"x")["id"]
    result = update(alice, dataset, document_id, {"name": name})
    assert result == {
        "code": 101,
        "message": "File name can't contain '/' or '\\' or surrounding spaces.",
    }
    assert one_doc(alice, dataset, document_id)["name"] == "a.txt"


def test_numbered_duplicate_names_count_up(alice: Account, dataset: str) -> None:
    first = upload(alice, dataset, ("rep(3).txt", b"x"))["data"][0]["name"]
    second = upload(alice, dataset, ("rep(3).txt", b"x"))["data"][0]["name"]
    assert (first, second) == ("rep(3).txt", "rep(4).txt")


def test_download_name_with_reserved_characters(alice: Account, dataset: str) -> None:
    document_id = upload_one(alice, dataset, "a;b=c,d.txt", b"x")["id"]
    disposition = download(alice, dataset, document_id).headers["content-disposition"]
    assert disposition == "attachment; filename*=UTF-8''a%3Bb%3Dc%2Cd.txt"
