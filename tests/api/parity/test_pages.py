"""Paging of the document, chunk, chat and session lists: ``page=0`` is the first page and
``page_size=0`` an empty page (RAGFlow's chunk list, which gives the default page there, is
made consistent with the others; docs/compatibility.md). Only the dataset list refuses 0."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_chat_sessions import created as created_session
from api.test_chat_sessions import listing as list_sessions
from api.test_chat_sessions import new_chat
from api.test_chunks import add
from api.test_chunks import listing as list_chunks
from api.test_datasets import listing as list_datasets
from api.test_parsing import new_dataset, upload
from conftest import Account


def _documents(account: Account, dataset_id: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.get(
        f"/api/v1/datasets/{dataset_id}/documents", params=params, headers=account.api_headers
    ).json()
    return result


def _chats(account: Account, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.get(
        "/api/v1/chats", params=params, headers=account.api_headers
    ).json()
    return result


def test_documents(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    for name in ("a.txt", "b.txt", "c.txt"):
        upload(alice, dataset_id, name, b"some text")
    first = _documents(alice, dataset_id, page=1, page_size=2)["data"]
    assert _documents(alice, dataset_id, page=0, page_size=2)["data"] == first
    assert _documents(alice, dataset_id, page_size=0) == {
        "code": 0,
        "data": {"total": 3, "docs": []},
    }
    assert _documents(alice, dataset_id, page=0, page_size=0)["data"] == {"total": 3, "docs": []}


def test_chunks(alice: Account) -> None:
    dataset_id = new_dataset(alice)
    document_id = upload(alice, dataset_id, "a.txt", b"some text")
    for content in ("first chunk", "second chunk", "third chunk"):
        assert add(alice, dataset_id, document_id, {"content": content})["code"] == 0
    first = list_chunks(alice, dataset_id, document_id, page=1, page_size=2)["data"]
    assert list_chunks(alice, dataset_id, document_id, page=0, page_size=2)["data"] == first
    empty = list_chunks(alice, dataset_id, document_id, page_size=0)
    assert empty["code"] == 0
    assert (empty["data"]["total"], empty["data"]["chunks"]) == (3, [])


def test_chats(alice: Account) -> None:
    for name in ("one", "two", "three"):
        new_chat(alice, name)
    first = _chats(alice, page=1, page_size=2)
    assert len(first["data"]) == 2
    assert _chats(alice, page=0, page_size=2) == first
    assert _chats(alice, page_size=0) == {"code": 0, "data": []}


def test_sessions(alice: Account) -> None:
    chat_id = new_chat(alice)
    for name in ("one", "two", "three"):
        created_session(alice, chat_id, name=name)
    first = list_sessions(alice, chat_id, page=1, page_size=2)
    assert len(first["data"]) == 2
    assert list_sessions(alice, chat_id, page=0, page_size=2) == first
    assert list_sessions(alice, chat_id, page_size=0) == {"code": 0, "data": []}


@pytest.mark.parametrize(
    ("query", "line"),
    [
        ("?page=0", "Field: <page> - Message: <Input should be greater than or equal to 1>"),
        (
            "?page_size=0",
            "Field: <page_size> - Message: <Input should be greater than or equal to 1>",
        ),
    ],
)
def test_only_the_dataset_list_refuses_zero(alice: Account, query: str, line: str) -> None:
    result = list_datasets(alice, query)
    assert result["code"] == 101 and result["message"].startswith(line)
