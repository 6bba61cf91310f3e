"""Chunks: counts on add, keywords and questions as RAGFlow stores them, the keyword search of
the list, and an update with a null content."""

from __future__ import annotations

from typing import Any

from api.test_chunks import add, listing, url
from api.test_parsing import document, new_dataset, upload
from conftest import Account


def _document_with_text(account: Account, name: str = "a.txt") -> tuple[str, str]:
    dataset_id = new_dataset(account)
    return dataset_id, upload(account, dataset_id, name, b"some text")


def _added(account: Account, dataset_id: str, document_id: str, **body: Any) -> dict[str, Any]:
    result = add(account, dataset_id, document_id, body)
    assert result["code"] == 0, result
    chunk: dict[str, Any] = result["data"]["chunk"]
    return chunk


def test_each_add_counts_at_once(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice)
    for count, content in enumerate(("first", "second", "third"), start=1):
        _added(alice, dataset_id, document_id, content=content)
        assert document(alice, dataset_id, document_id)["chunk_count"] == count
    datasets = alice.client.get("/api/v1/datasets", headers=alice.api_headers).json()["data"]
    assert datasets[0]["chunk_count"] == 3


def test_adding_the_same_content_again_replaces_the_chunk(alice: Account) -> None:
    """The id is a hash of content and document: the chunk is replaced, and the count stays
    exact (a deliberate deviation: RAGFlow counts it again)."""
    dataset_id, document_id = _document_with_text(alice)
    first = _added(alice, dataset_id, document_id, content="same", important_keywords=["a"])
    again = _added(alice, dataset_id, document_id, content="same", important_keywords=["b"])
    assert first["id"] == again["id"]
    assert document(alice, dataset_id, document_id)["chunk_count"] == 1
    [chunk] = listing(alice, dataset_id, document_id)["data"]["chunks"]
    assert chunk["important_keywords"] == ["b"]


def test_keywords_are_stored_as_sent_and_blank_questions_dropped(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice)
    chunk = _added(
        alice,
        dataset_id,
        document_id,
        content="text",
        important_keywords=["", " padded "],
        questions=["", "  ", " why? ", "how"],
    )
    assert chunk["important_keywords"] == ["", " padded "]
    assert chunk["questions"] == ["why?", "how"]
    [listed] = listing(alice, dataset_id, document_id)["data"]["chunks"]
    assert (listed["important_keywords"], listed["questions"]) == (
        ["", " padded "],
        ["why?", "how"],
    )


def test_update_keeps_keywords_as_sent_and_drops_blank_questions(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice)
    chunk = _added(alice, dataset_id, document_id, content="text")
    body = {"important_keywords": [""], "questions": ["", " q "]}
    response = alice.client.put(
        url(dataset_id, document_id, chunk["id"]), json=body, headers=alice.api_headers
    )
    assert response.json() == {"code": 0}
    [listed] = listing(alice, dataset_id, document_id)["data"]["chunks"]
    assert (listed["important_keywords"], listed["questions"]) == ([""], ["q"])


def test_update_with_a_null_content_keeps_the_content(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice)
    chunk = _added(alice, dataset_id, document_id, content="kept text")
    response = alice.client.put(
        url(dataset_id, document_id, chunk["id"]),
        json={"content": None, "important_keywords": ["k"]},
        headers=alice.api_headers,
    )
    assert response.json() == {"code": 0}
    [listed] = listing(alice, dataset_id, document_id)["data"]["chunks"]
    assert (listed["content"], listed["important_keywords"]) == ("kept text", ["k"])


def _found(account: Account, dataset_id: str, document_id: str, keywords: str) -> set[str]:
    data = listing(account, dataset_id, document_id, keywords=keywords)["data"]
    assert data["total"] == len(data["chunks"])
    return {chunk["id"] for chunk in data["chunks"]}


def test_list_keywords_is_a_full_text_match(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice, "ragflow_test_upload_0.txt")
    cranes = _added(alice, dataset_id, document_id, content="Cranes migrate in autumn")
    engine = _added(
        alice, dataset_id, document_id, content="A turbofan", important_keywords=["thrust"]
    )
    bread = _added(alice, dataset_id, document_id, content="Dough", questions=["How to bake?"])
    everything = {cranes["id"], engine["id"], bread["id"]}
    assert _found(alice, dataset_id, document_id, "ragflow") == everything  # the title's words
    assert _found(alice, dataset_id, document_id, "crane") == {cranes["id"]}  # stemmed
    assert _found(alice, dataset_id, document_id, "thrust") == {engine["id"]}
    assert _found(alice, dataset_id, document_id, "baking") == {bread["id"]}
    assert _found(alice, dataset_id, document_id, "cranes dough") == {cranes["id"], bread["id"]}
    assert _found(alice, dataset_id, document_id, "migr") == set()  # not a substring match
