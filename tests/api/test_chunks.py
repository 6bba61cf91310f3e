"""Chunks of a document: list, add, update, delete (spec 2.3), counters and search at once."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from api.test_parsing import TEXT, new_dataset, parse, upload
from conftest import Account
from ragserve.runtime import Runtime


@pytest.fixture
def parsed(alice: Account) -> tuple[str, str]:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "cranes.md", TEXT.encode())
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    return dataset_id, document_id


def url(dataset_id: str, document_id: str, chunk_id: str = "") -> str:
    base = f"/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks"
    return f"{base}/{chunk_id}" if chunk_id else base


def listing(account: Account, dataset_id: str, document_id: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.get(
        url(dataset_id, document_id), params=params, headers=account.api_headers
    ).json()
    return result


def add(account: Account, dataset_id: str, document_id: str, body: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.post(
        url(dataset_id, document_id), json=body, headers=account.api_headers
    ).json()
    return result


def test_list_chunks(alice: Account, parsed: tuple[str, str]) -> None:
    result = listing(alice, *parsed)
    assert result["code"] == 0
    data = result["data"]
    assert data["total"] == len(data["chunks"]) > 0
    assert data["doc"]["id"] == parsed[1] and data["doc"]["run"] == "DONE"
    first = data["chunks"][0]
    assert set(first) == {
        "id", "content", "document_id", "docnm_kwd", "important_keywords", "questions",
        "dataset_id", "image_id", "available", "positions",
    }  # fmt: skip
    assert len(first["id"]) == 16 and first["docnm_kwd"] == "cranes.md"
    assert listing(alice, *parsed, page_size=1)["data"]["chunks"] == data["chunks"][:1]
    assert listing(alice, *parsed, id=first["id"])["data"]["chunks"] == [first]


def test_list_chunks_by_keywords_highlights_the_matches(
    alice: Account, parsed: tuple[str, str]
) -> None:
    every = listing(alice, *parsed)["data"]["chunks"]
    found = listing(alice, *parsed, keywords="MIGRATING")["data"]  # stems: migrate
    assert found["total"] == len(found["chunks"]) == 1
    assert "<em>migrate</em>" in found["chunks"][0]["content"]
    assert found["chunks"][0]["id"] in {chunk["id"] for chunk in every}
    assert listing(alice, *parsed, keywords="penguins")["data"]["chunks"] == []
    assert listing(alice, *parsed, keywords="the")["data"]["total"] == 0  # only a stop word


def test_list_unknown_chunk(alice: Account, parsed: tuple[str, str]) -> None:
    assert listing(alice, *parsed, id="0" * 16) == {
        "code": 404,
        "message": f"Chunk not found: {parsed[0]}/{'0' * 16}",
    }


def test_add_chunk_counts_and_is_searchable(
    alice: Account, parsed: tuple[str, str], runtime: Runtime
) -> None:
    from ragserve.store.base import ChunkFilter
    from ragserve.tokenizer import tokenize

    before = listing(alice, *parsed)["data"]["total"]
    result = add(
        alice,
        *parsed,
        {
            "content": "Whooping cranes nest in wetlands.",
            "important_keywords": ["wetland"],
            "questions": ["Where do whooping cranes nest?"],
        },
    )
    assert result["code"] == 0
    chunk = result["data"]["chunk"]
    assert chunk["content"] == "Whooping cranes nest in wetlands."
    assert chunk["important_keywords"] == ["wetland"]
    assert isinstance(chunk["create_timestamp"], float) and len(chunk["create_time"]) == 19
    data = listing(alice, *parsed)["data"]
    assert data["total"] == before + 1 and data["doc"]["chunk_count"] == before + 1
    hits = runtime.chunks.search_text(tokenize("whooping"), ChunkFilter([alice.id], [parsed[0]]), 5)
    assert [hit.chunk.id for hit in hits] == [chunk["id"]]
    again = add(alice, *parsed, {"content": "Whooping cranes nest in wetlands."})
    assert again["data"]["chunk"]["id"] == chunk["id"]
    assert listing(alice, *parsed)["data"]["total"] == before + 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "`content` is required"),
        ({"content": "  "}, "`content` is required"),
        ({"content": 5}, "`content` is required"),
        (
            {"content": "x", "important_keywords": "a"},
            "`important_keywords` is required to be a list",
        ),
        ({"content": "x", "questions": "q"}, "`questions` is required to be a list"),
    ],
)
def test_add_validation(
    alice: Account, parsed: tuple[str, str], body: dict[str, Any], message: str
) -> None:
    assert add(alice, *parsed, body) == {"code": 102, "message": message}


def test_update_chunk(alice: Account, parsed: tuple[str, str], runtime: Runtime) -> None:
    from ragserve.store.base import ChunkFilter
    from ragserve.tokenizer import tokenize

    chunk_id = listing(alice, *parsed)["data"]["chunks"][0]["id"]
    body = {
        "content": "Sandhill cranes dance.",
        "important_keywords": ["dance"],
        "available": False,
    }
    response = alice.client.put(url(*parsed, chunk_id), json=body, headers=alice.api_headers)
    assert response.json() == {"code": 0}
    chunk = listing(alice, *parsed, id=chunk_id)["data"]["chunks"][0]
    assert (chunk["content"], chunk["important_keywords"], chunk["available"]) == (
        "Sandhill cranes dance.", ["dance"], False,
    )  # fmt: skip
    hits = runtime.chunks.search_text(
        tokenize("sandhill"), ChunkFilter([alice.id], [parsed[0]], available_only=False), 5
    )
    assert [hit.chunk.id for hit in hits] == [chunk_id]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"important_keywords": "x"}, "`important_keywords` should be a list"),
        ({"questions": "x"}, "`questions` should be a list"),
        ({"positions": "x"}, "`positions` should be a list"),
    ],
)
def test_update_validation(
    alice: Account, parsed: tuple[str, str], body: dict[str, Any], message: str
) -> None:
    chunk_id = listing(alice, *parsed)["data"]["chunks"][0]["id"]
    response = alice.client.put(url(*parsed, chunk_id), json=body, headers=alice.api_headers)
    assert response.json() == {"code": 102, "message": message}


def test_update_unknown_chunk(alice: Account, parsed: tuple[str, str]) -> None:
    response = alice.client.put(
        url(*parsed, "f" * 16), json={"content": "x"}, headers=alice.api_headers
    )
    assert response.json() == {"code": 102, "message": f"Can't find this chunk {'f' * 16}"}


def test_delete_chunks(alice: Account, parsed: tuple[str, str]) -> None:
    chunks = listing(alice, *parsed)["data"]["chunks"]
    first = chunks[0]["id"]
    response = alice.client.request(
        "DELETE", url(*parsed), json={"chunk_ids": [first, first]}, headers=alice.api_headers
    )
    assert response.json() == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"Duplicate chunk ids: {first}"]},
    }
    missing = alice.client.request(
        "DELETE", url(*parsed), json={"chunk_ids": [first]}, headers=alice.api_headers
    )
    assert missing.json() == {"code": 102, "message": "rm_chunk deleted chunks 0, expect 1"}
    everything = alice.client.request("DELETE", url(*parsed), json={}, headers=alice.api_headers)
    assert everything.json() == {"code": 0}
    data = listing(alice, *parsed)["data"]
    assert data["total"] == 0 and data["doc"]["chunk_count"] == 0


def test_chunks_of_another_tenant(alice: Account, bob: Account, parsed: tuple[str, str]) -> None:
    message = f"You don't own the dataset {parsed[0]}."
    assert listing(bob, *parsed) == {"code": 102, "message": message}
    assert add(bob, *parsed, {"content": "intruder"}) == {"code": 102, "message": message}
    deleted = bob.client.request("DELETE", url(*parsed), json={}, headers=bob.api_headers)
    assert deleted.json() == {"code": 102, "message": message}
    assert listing(alice, *parsed)["data"]["total"] > 0


def test_editing_and_deleting_a_chunk_at_once(alice: Account, parsed: tuple[str, str]) -> None:
    """Issue 21, point 4: an edit racing the deletion of its chunk either wins or gets the
    chunk's "not found" error, never a 500; the deletion always succeeds."""
    for round_ in range(25):
        content = f"Crane fact number {round_}."
        chunk_id = add(alice, *parsed, {"content": content})["data"]["chunk"]["id"]
        edited, deleted = _edit_and_delete_at_once(alice, parsed, chunk_id)
        assert deleted.status_code == 200 and deleted.json() == {"code": 0}, deleted.text
        assert edited.status_code == 200, edited.text
        not_found = {
            f"Can't find this chunk {chunk_id}",  # gone before the edit began
            "No chunk found! Check the chunk status please!",  # gone while it was embedded
        }
        answer = edited.json()
        assert answer == {"code": 0} or (
            answer["code"] == 102 and answer["message"] in not_found
        ), answer
        assert listing(alice, *parsed, id=chunk_id)["code"] == 404


def _edit_and_delete_at_once(
    alice: Account, parsed: tuple[str, str], chunk_id: str
) -> tuple[httpx.Response, httpx.Response]:
    start = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def edit() -> None:
        start.wait()
        answers["edit"] = alice.client.put(
            url(*parsed, chunk_id), json={"content": "Edited."}, headers=alice.api_headers
        )

    def delete() -> None:
        start.wait()
        answers["delete"] = alice.client.request(
            "DELETE", url(*parsed), json={"chunk_ids": [chunk_id]}, headers=alice.api_headers
        )

    threads = [threading.Thread(target=edit), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers["edit"], answers["delete"]
