"""The runtime's cache of evaluated metadata filters (``services/metadata_scope.py``): real
documents written through the API, ``resolve_scope`` read as retrieval reads it, and a spy on
the evaluation to see whether it ran."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from api.test_parsing import new_dataset, upload
from conftest import Account
from ragserve.db.models import Document
from ragserve.runtime import METADATA_SCOPES, Runtime
from ragserve.schemas.metadata_condition import MetadataCondition, parse_metadata_condition
from ragserve.services import metadata_scope
from ragserve.services.retrieval import resolve_scope
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.timeutil import now_ms

AVIATION = {"conditions": [{"name": "topic", "comparison_operator": "is", "value": "aviation"}]}


@dataclass
class Library:
    dataset_id: str
    docs: dict[str, str]
    """name -> document id, in upload order"""


class Evaluations:
    """Counts calls of the filter evaluation, which still does the work."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> list[str]:
        self.count += 1
        return self.real(*args)

    real = staticmethod(metadata_scope.filter_documents)


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> Evaluations:
    spy = Evaluations()
    monkeypatch.setattr(metadata_scope, "filter_documents", spy)
    return spy


def set_meta(account: Account, dataset_id: str, document_id: str, meta: dict[str, Any]) -> None:
    response = account.client.put(
        f"/api/v1/datasets/{dataset_id}/documents/{document_id}",
        json={"meta_fields": meta},
        headers=account.api_headers,
    )
    assert response.json()["code"] == 0, response.json()


def new_library(account: Account, name: str, meta: dict[str, dict[str, Any]]) -> Library:
    dataset_id = new_dataset(account, name=name)
    docs = {doc: upload(account, dataset_id, f"{doc}.txt", doc.encode()) for doc in meta}
    for doc, fields in meta.items():
        set_meta(account, dataset_id, docs[doc], fields)
    return Library(dataset_id, docs)


@pytest.fixture
def library(alice: Account) -> Library:
    return new_library(
        alice,
        "scope",
        {
            "a": {"topic": "aviation", "n": 1},
            "b": {"topic": "baking"},
            "c": {"topic": "Aviation", "n": 1.0},
            "d": {"topic": "aviation", "n": True},
        },
    )


def condition(raw: dict[str, Any]) -> MetadataCondition:
    parsed = parse_metadata_condition(raw)
    assert parsed is not None
    return parsed


def scope_ids(
    runtime: Runtime, account: Account, dataset_ids: list[str], raw: dict[str, Any]
) -> tuple[str, ...] | None:
    """The document ids retrieval would search, after the writes so far are in the past:
    a lookup in the same millisecond as the newest write is not cached (on purpose)."""
    written = now_ms()
    while now_ms() == written:
        time.sleep(0.0005)
    caller = Caller(account.id, account.id, CredentialKind.API_TOKEN)
    with runtime.read() as session:
        scope = resolve_scope(
            session, caller, dataset_ids, (), condition(raw), scopes=runtime.caches.metadata_scopes
        )
        return scope.document_ids


def test_a_repeated_filter_is_not_evaluated_again(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    docs = library.docs
    first = scope_ids(runtime, alice, [library.dataset_id], AVIATION)
    assert first == (docs["a"], docs["c"], docs["d"])  # upload order
    assert evaluations.count == 1
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == first
    assert scope_ids(runtime, alice, [library.dataset_id, library.dataset_id], AVIATION) == first
    assert evaluations.count == 1
    runtime.caches.metadata_scopes.clear()
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == first
    assert evaluations.count == 2


def test_changed_meta_fields_are_seen(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    docs = library.docs
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == (
        docs["a"], docs["c"], docs["d"]
    )  # fmt: skip
    set_meta(alice, library.dataset_id, docs["b"], {"topic": "aviation"})
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == (
        docs["a"], docs["b"], docs["c"], docs["d"]
    )  # fmt: skip
    assert evaluations.count == 2
    # The batch metadata update writes with a Core UPDATE, not through the ORM.
    response = alice.client.post(
        f"/api/v1/datasets/{library.dataset_id}/metadata/update",
        json={
            "selector": {"document_ids": [docs["a"]]},
            "updates": [{"key": "topic", "value": "birds"}],
        },
        headers=alice.api_headers,
    )
    assert response.json() == {"code": 0, "data": {"updated": 1, "matched_docs": 1}}
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == (
        docs["b"], docs["c"], docs["d"]
    )  # fmt: skip
    assert evaluations.count == 3


def test_an_added_document_is_seen(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    no_topic = {"conditions": [{"name": "topic", "comparison_operator": "empty"}]}
    assert scope_ids(runtime, alice, [library.dataset_id], no_topic) == ()
    added = upload(alice, library.dataset_id, "e.txt", b"e")
    assert scope_ids(runtime, alice, [library.dataset_id], no_topic) == (added,)
    assert evaluations.count == 2


def test_a_deleted_document_is_seen(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    docs = library.docs
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == (
        docs["a"], docs["c"], docs["d"]
    )  # fmt: skip
    response = alice.client.request(
        "DELETE",
        f"/api/v1/datasets/{library.dataset_id}/documents",
        json={"ids": [docs["c"]]},
        headers=alice.api_headers,
    )
    assert response.json()["code"] == 0, response.json()
    assert scope_ids(runtime, alice, [library.dataset_id], AVIATION) == (docs["a"], docs["d"])
    assert evaluations.count == 2


def test_conditions_and_dataset_sets_have_their_own_entries(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    docs = library.docs
    other = new_library(alice, "other", {"x": {"topic": "aviation"}, "y": {"topic": "baking"}})
    baking = {"conditions": [{"name": "topic", "comparison_operator": "is", "value": "baking"}]}
    # Equal in Python (1 == 1.0 == True) but not to the filter: numbers compare numerically,
    # True as the text "true"; and "1" is in "1", "1.0" is not.
    n_one = {"conditions": [{"name": "n", "comparison_operator": "is", "value": 1}]}
    n_true = {"conditions": [{"name": "n", "comparison_operator": "is", "value": True}]}
    n_has_one = {"conditions": [{"name": "n", "comparison_operator": "contains", "value": 1}]}
    n_has_one_point_zero = {
        "conditions": [{"name": "n", "comparison_operator": "contains", "value": 1.0}]
    }
    expected = [
        ([library.dataset_id], AVIATION, (docs["a"], docs["c"], docs["d"])),
        ([library.dataset_id], baking, (docs["b"],)),
        ([other.dataset_id], AVIATION, (other.docs["x"],)),
        ([library.dataset_id, other.dataset_id], baking, (docs["b"], other.docs["y"])),
        ([library.dataset_id], n_one, (docs["a"], docs["c"])),
        ([library.dataset_id], n_true, (docs["d"],)),
        ([library.dataset_id], n_has_one, (docs["a"], docs["c"])),
        ([library.dataset_id], n_has_one_point_zero, (docs["c"],)),
    ]
    if library.dataset_id > other.dataset_id:  # ordered by dataset id, then upload order
        expected[3] = ([library.dataset_id, other.dataset_id], baking, (other.docs["y"], docs["b"]))
    for _ in range(2):  # the second round is served from the cache
        for dataset_ids, raw, ids in expected:
            assert scope_ids(runtime, alice, dataset_ids, raw) == ids, (dataset_ids, raw)
        assert evaluations.count == len(expected)


def test_no_entry_while_the_newest_write_is_in_this_millisecond(
    alice: Account,
    runtime: Runtime,
    library: Library,
    evaluations: Evaluations,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another write in the same millisecond would leave its row's ``update_time`` (and so the
    fingerprint) as it is: a lookup that starts in the millisecond of the newest write does
    not store its result."""
    set_meta(alice, library.dataset_id, library.docs["b"], {"topic": "aviation"})
    with runtime.read() as session:
        newest = session.scalar(select(func.max(Document.update_time)))
    monkeypatch.setattr(metadata_scope, "now_ms", lambda: newest)
    for count in (1, 2):
        scope_ids(runtime, alice, [library.dataset_id], AVIATION)
        assert evaluations.count == count
    monkeypatch.undo()
    monkeypatch.setattr(metadata_scope, "filter_documents", evaluations)
    for _ in range(2):
        scope_ids(runtime, alice, [library.dataset_id], AVIATION)
        assert evaluations.count == 3


def test_the_cache_keeps_the_most_recently_used_entries(
    alice: Account, runtime: Runtime, library: Library, evaluations: Evaluations
) -> None:
    topics = [
        {"conditions": [{"name": "topic", "comparison_operator": "is", "value": f"t{i}"}]}
        for i in range(METADATA_SCOPES + 1)
    ]
    for raw in topics:
        scope_ids(runtime, alice, [library.dataset_id], raw)
    assert len(runtime.caches.metadata_scopes) == METADATA_SCOPES
    scope_ids(runtime, alice, [library.dataset_id], topics[-1])  # still there
    assert evaluations.count == len(topics)
    scope_ids(runtime, alice, [library.dataset_id], topics[0])  # the oldest went first
    assert evaluations.count == len(topics) + 1
