"""POST /api/v1/dify/retrieval: Dify's request shapes, records, and its error bodies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.conftest import Corpus
from conftest import Account

URL = "/api/v1/dify/retrieval"


def dify(account: Account, body: Any, **headers: str) -> httpx.Response:
    """POST as Dify does: JSON body, ``Authorization: Bearer <key>`` unless overridden."""
    sent = {"Authorization": f"Bearer {account.api_key}", **headers}
    return account.client.post(URL, json=body, headers=sent)


def records(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"records"}, body
    found: list[dict[str, Any]] = body["records"]
    return found


def dify_body(knowledge_id: str, query: str, **extra: Any) -> dict[str, Any]:
    """What Dify's client sends: every key present, ``metadata_condition`` null by default."""
    return {
        "retrieval_setting": {"top_k": 5, "score_threshold": 0.0},
        "query": query,
        "knowledge_id": knowledge_id,
        "metadata_condition": None,
        **extra,
    }


def test_records_for_difys_real_request(alice: Account, corpus: Corpus) -> None:
    found = records(dify(alice, dify_body(corpus.dataset_id, "How do cranes migrate?")))
    assert 1 <= len(found) <= 5
    first = found[0]
    assert set(first) == {"content", "score", "title", "metadata"}
    assert first["title"] == "cranes.md" and "cranes" in first["content"].lower()
    assert first["metadata"] == {"doc_id": corpus.documents["cranes.md"]}
    assert all(isinstance(r["metadata"], dict) for r in found)
    scores = [r["score"] for r in found]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_defaults_and_threshold(alice: Account, corpus: Corpus) -> None:
    minimal = {"knowledge_id": corpus.dataset_id, "query": "bread engine cranes"}
    everything = records(dify(alice, minimal))
    assert len(everything) >= 3
    strict = dify_body(corpus.dataset_id, "bread engine cranes",
                       retrieval_setting={"top_k": 10, "score_threshold": 0.99})  # fmt: skip
    assert records(dify(alice, strict)) == []
    one = dify_body(corpus.dataset_id, "bread", retrieval_setting={"top_k": 1})
    assert len(records(dify(alice, one))) == 1


def test_metadata_in_records_and_conditions(alice: Account, corpus: Corpus) -> None:
    engines = corpus.documents["engines.md"]
    response = alice.client.put(
        f"/api/v1/datasets/{corpus.dataset_id}/documents/{engines}",
        json={"meta_fields": {"topic": "aviation", "year": 2020}},
        headers=alice.api_headers,
    )
    assert response.json()["code"] == 0
    query = "bread engine cranes"
    difys = {"logical_operator": "or", "conditions": [
        {"name": ["topic"], "comparison_operator": "is", "value": "aviation"},
        {"name": ["year"], "comparison_operator": ">", "value": 2030},
    ]}  # fmt: skip
    found = records(dify(alice, dify_body(corpus.dataset_id, query, metadata_condition=difys)))
    assert found and {r["metadata"]["doc_id"] for r in found} == {engines}
    assert found[0]["metadata"] == {"topic": "aviation", "year": 2020, "doc_id": engines}

    both = {**difys, "logical_operator": "and"}
    assert records(dify(alice, dify_body(corpus.dataset_id, query, metadata_condition=both))) == []
    ragflows = {"logic": "and", "conditions": [
        {"name": "author", "comparison_operator": "empty"}  # no document has the key
    ]}  # fmt: skip
    assert records(dify(alice, dify_body(corpus.dataset_id, query, metadata_condition=ragflows)))


@pytest.mark.parametrize(
    ("headers", "error_code"),
    [({"Authorization": ""}, 1001), ({"Authorization": "ragflow-abc"}, 1001),
     ({"Authorization": "Bearer ragflow-not-a-key"}, 1002)],
)  # fmt: skip
def test_authorization_errors(
    alice: Account, corpus: Corpus, headers: dict[str, str], error_code: int
) -> None:
    response = dify(alice, dify_body(corpus.dataset_id, "cranes"), **headers)
    assert response.status_code == 403
    body = response.json()
    assert body["error_code"] == error_code and body["code"] == 403
    assert body["error_msg"] == body["message"] and body["message"]


def test_unknown_and_foreign_knowledge_are_not_found(
    alice: Account, bob: Account, corpus: Corpus
) -> None:
    expected = {"code": 404, "message": "Knowledgebase not found!", "error_code": 2001,
                "error_msg": "Knowledgebase not found!"}  # fmt: skip
    for account, knowledge_id in ((alice, "no-such-dataset"), (bob, corpus.dataset_id)):
        response = dify(account, dify_body(knowledge_id, "cranes"))
        assert response.status_code == 404 and response.json() == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "x"}, "required argument are missing: knowledge_id; "),
        ({}, "required argument are missing: knowledge_id; query; "),
        ({"knowledge_id": "k", "query": ["x"]}, "`knowledge_id` and `query` must be strings."),
        ({"knowledge_id": "k", "query": "x", "retrieval_setting": {"top_k": 0}},
         "`retrieval_setting.top_k` must be an integer from 1 to 10000."),
        ({"knowledge_id": "k", "query": "x", "retrieval_setting": {"score_threshold": "hi"}},
         "`retrieval_setting.score_threshold` must be a number from 0 to 1."),
        ({"knowledge_id": "k", "query": "x", "retrieval_setting": 5},
         "`retrieval_setting` must be an object."),
    ],
)  # fmt: skip
def test_request_validation(alice: Account, body: dict[str, Any], message: str) -> None:
    response = dify(alice, body)
    assert response.status_code == 200
    assert response.json() == {"code": 101, "message": message}


def test_malformed_json_and_bad_condition(alice: Account, corpus: Corpus) -> None:
    response = alice.client.post(
        URL, content=b"{oops", headers={"Authorization": f"Bearer {alice.api_key}"}
    )
    assert response.json()["code"] == 101
    bad = {"conditions": [{"name": "topic", "comparison_operator": "like", "value": "x"}]}
    result = dify(alice, dify_body(corpus.dataset_id, "cranes", metadata_condition=bad)).json()
    assert result["code"] == 101 and "comparison_operator" in result["message"]


def test_a_failing_search_is_http_500_in_difys_shape(
    alice: Account, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragserve.errors import RagserveError
    from ragserve.store.base import ChunkStoreError

    runtime = alice.client.app.state.runtime  # type: ignore[attr-defined]

    def model_down(*args: Any, **kwargs: Any) -> Any:
        raise RagserveError("the embedding provider is unreachable")

    monkeypatch.setattr(runtime.chunks, "candidates", model_down)
    response = dify(alice, dify_body(corpus.dataset_id, "cranes"))
    assert response.status_code == 500
    assert response.json() == {"code": 500, "message": "the embedding provider is unreachable"}

    def store_down(*args: Any, **kwargs: Any) -> Any:
        raise ChunkStoreError("vector search failed: disk I/O error at /srv/chunks")

    monkeypatch.setattr(runtime.chunks, "candidates", store_down)
    response = dify(alice, dify_body(corpus.dataset_id, "cranes"))
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == 500
    assert body["message"].startswith("The chunk store failed") and "/srv" not in body["message"]
