"""POST /api/v1/retrieval (spec 5): parameters, scoring, filters, messages and isolation."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from api.conftest import Corpus
from api.test_chunks import add
from api.test_parsing import new_dataset, upload
from conftest import Account
from ragserve.db.models import Dataset
from ragserve.runtime import Runtime
from ragserve.store.base import ChunkFilter, ChunkStoreError
from ragserve.tokenizer import tokenize


def retrieve(account: Account, **body: Any) -> dict[str, Any]:
    response = account.client.post("/api/v1/retrieval", json=body, headers=account.api_headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def found(account: Account, **body: Any) -> list[dict[str, Any]]:
    result = retrieve(account, **body)
    assert result["code"] == 0, result
    chunks: list[dict[str, Any]] = result["data"]["chunks"]
    return chunks


def test_finds_the_relevant_chunk_with_every_field(alice: Account, corpus: Corpus) -> None:
    result = retrieve(alice, dataset_ids=[corpus.dataset_id], question="How do cranes migrate?")
    assert result["code"] == 0
    data = result["data"]
    first = data["chunks"][0]
    assert first["document_id"] == corpus.documents["cranes.md"]
    assert set(first) == {
        "id", "content", "content_ltks", "document_id", "document_keyword", "dataset_id",
        "important_keywords", "questions", "image_id", "similarity", "vector_similarity",
        "term_similarity", "positions", "doc_type_kwd", "mom_id", "highlight",
    }  # fmt: skip
    assert first["document_keyword"] == "cranes.md"
    assert first["dataset_id"] == corpus.dataset_id
    assert first["similarity"] == pytest.approx(
        0.7 * first["term_similarity"] + 0.3 * first["vector_similarity"]
    )
    assert "<em>cranes</em>" in first["highlight"] and "<em>migrate</em>" in first["highlight"]
    assert data["total"] == len(data["chunks"])
    assert data["doc_aggs"][0] == {
        "doc_name": "cranes.md",
        "doc_id": corpus.documents["cranes.md"],
        "count": sum(c["document_id"] == corpus.documents["cranes.md"] for c in data["chunks"]),
    }
    similarities = [chunk["similarity"] for chunk in data["chunks"]]
    assert similarities == sorted(similarities, reverse=True)
    assert min(similarities) >= 0.2


def test_weights_rank_as_the_formula_says(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    """The order at w = 0, 0.5 and 1 equals one computed independently from the store's BM25
    ranking and numpy cosines of the stored vectors."""
    question = "engine air flow of birds"
    model = runtime.embedding_model("all-MiniLM-L6-v2-q8@Builtin")
    query = model.embed([question])[0]
    scope = ChunkFilter(tenant_ids=[alice.id], dataset_ids=[corpus.dataset_id])
    everything = runtime.chunks.search_vector(query, scope, 100)
    cosine = {
        hit.chunk.id: float(np.dot(hit.chunk.vector, query) / np.linalg.norm(query))
        for hit in everything
    }
    bm25_order = [
        hit.chunk.id for hit in runtime.chunks.search_text(tokenize(question), scope, 100)
    ]

    by_text = found(alice, dataset_ids=[corpus.dataset_id], question=question,
                    vector_similarity_weight=0, similarity_threshold=0)  # fmt: skip
    assert [c["id"] for c in by_text if c["term_similarity"] > 0] == bm25_order

    by_vector = found(alice, dataset_ids=[corpus.dataset_id], question=question,
                      vector_similarity_weight=1, similarity_threshold=0)  # fmt: skip
    ranked = sorted(cosine, key=lambda key: -cosine[key])
    assert [c["id"] for c in by_vector] == [key for key in ranked if cosine[key] >= 0]
    for chunk in by_vector:
        assert chunk["vector_similarity"] == pytest.approx(cosine[chunk["id"]], abs=1e-4)
        assert chunk["similarity"] == pytest.approx(chunk["vector_similarity"])

    term = {c["id"]: c["term_similarity"] for c in by_text}
    half = found(alice, dataset_ids=[corpus.dataset_id], question=question,
                 vector_similarity_weight=0.5, similarity_threshold=0)  # fmt: skip
    mixed = {key: 0.5 * term.get(key, 0.0) + 0.5 * cosine[key] for key in cosine}
    assert [c["id"] for c in half] == [
        key for key in sorted(mixed, key=lambda key: -mixed[key]) if mixed[key] >= 0
    ]
    assert [c["id"] for c in by_text] != [c["id"] for c in by_vector] or len(cosine) == 1


def test_threshold_paging_and_total(alice: Account, corpus: Corpus) -> None:
    body = {"dataset_ids": [corpus.dataset_id], "question": "engine bread cranes",
            "similarity_threshold": 0}  # fmt: skip
    everything = retrieve(alice, **body)["data"]
    assert everything["total"] == len(everything["chunks"]) >= 3
    pages = [found(alice, **body, page=page, page_size=1) for page in (1, 2, 3)]
    assert [p[0]["id"] for p in pages] == [c["id"] for c in everything["chunks"][:3]]
    beyond = retrieve(alice, **body, page=99, page_size=10)["data"]
    assert beyond["chunks"] == [] and beyond["total"] == everything["total"]
    strict = retrieve(alice, **{**body, "similarity_threshold": 0.99})["data"]
    assert strict == {"total": 0, "chunks": [], "doc_aggs": []}
    few = retrieve(alice, **body, top_k=1)["data"]
    assert few["total"] == everything["total"]  # top_k bounds the vector side only


def test_document_filter(alice: Account, corpus: Corpus) -> None:
    bread = corpus.documents["bread.md"]
    chunks = found(alice, dataset_ids=[corpus.dataset_id], document_ids=[bread],
                   question="cranes engine bread", similarity_threshold=0)  # fmt: skip
    assert chunks and {c["document_id"] for c in chunks} == {bread}


def test_metadata_filter(alice: Account, corpus: Corpus) -> None:
    engines = corpus.documents["engines.md"]
    response = alice.client.put(
        f"/api/v1/datasets/{corpus.dataset_id}/documents/{engines}",
        json={"meta_fields": {"topic": "aviation", "year": 2020}},
        headers=alice.api_headers,
    )
    assert response.json()["code"] == 0
    body = {"dataset_ids": [corpus.dataset_id], "question": "cranes engine bread",
            "similarity_threshold": 0}  # fmt: skip
    condition = {
        "conditions": [{"name": "topic", "comparison_operator": "is", "value": "aviation"}]
    }
    chunks = found(alice, **body, metadata_condition=condition)
    assert chunks and {c["document_id"] for c in chunks} == {engines}

    newer = {"conditions": [{"name": "year", "comparison_operator": ">", "value": 2021}]}
    assert retrieve(alice, **body, metadata_condition=newer)["data"] == {
        "total": 0, "chunks": [], "doc_aggs": {}
    }  # fmt: skip
    either = {"logic": "or", "conditions": [
        {"name": "year", "comparison_operator": ">", "value": 2021},
        {"name": "topic", "comparison_operator": "contains", "value": "avia"},
    ]}  # fmt: skip
    assert {c["document_id"] for c in found(alice, **body, metadata_condition=either)} == {engines}
    # document_ids win over the metadata condition
    bread = corpus.documents["bread.md"]
    chunks = found(alice, **body, document_ids=[bread], metadata_condition=condition)
    assert {c["document_id"] for c in chunks} == {bread}
    bad = {"conditions": [{"name": "topic", "comparison_operator": "like", "value": "x"}]}
    assert retrieve(alice, **body, metadata_condition=bad)["code"] == 101


def test_disabled_documents_and_deleted_chunks_are_never_returned(
    alice: Account, corpus: Corpus
) -> None:
    cranes = corpus.documents["cranes.md"]
    body = {"dataset_ids": [corpus.dataset_id], "question": "whooping cranes migrate",
            "similarity_threshold": 0}  # fmt: skip
    chunk_ids = [c["id"] for c in found(alice, **body) if c["document_id"] == cranes]
    assert chunk_ids
    url = f"/api/v1/datasets/{corpus.dataset_id}/documents/{cranes}"
    assert (
        alice.client.put(url, json={"enabled": False}, headers=alice.api_headers).json()["code"]
        == 0
    )
    assert all(c["document_id"] != cranes for c in found(alice, **body))
    assert (
        alice.client.put(url, json={"enabled": True}, headers=alice.api_headers).json()["code"] == 0
    )
    assert {c["id"] for c in found(alice, **body)} >= set(chunk_ids)

    deleted = alice.client.request(
        "DELETE", f"{url}/chunks", json={"chunk_ids": chunk_ids[:1]}, headers=alice.api_headers
    )
    assert deleted.json()["code"] == 0
    assert chunk_ids[0] not in {c["id"] for c in found(alice, **body)}


def test_highlight_can_be_turned_off(alice: Account, corpus: Corpus) -> None:
    body = {"dataset_ids": [corpus.dataset_id], "question": "bread oven"}
    assert "<em>" in found(alice, **body)[0]["highlight"]
    for off in (False, "false", "False"):
        assert "highlight" not in found(alice, **body, highlight=off)[0]


def test_empty_question_returns_nothing(alice: Account, corpus: Corpus) -> None:
    for question in ("", "   "):
        result = retrieve(alice, dataset_ids=[corpus.dataset_id], question=question)
        assert result == {"code": 0, "data": {"total": 0, "chunks": [], "doc_aggs": {}}}


def test_stop_words_only_still_searches_by_vector(alice: Account, corpus: Corpus) -> None:
    chunks = found(alice, dataset_ids=[corpus.dataset_id], question="what is it?",
                   similarity_threshold=0)  # fmt: skip
    assert chunks and all(c["term_similarity"] == 0 for c in chunks)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"question": "x"}, 102, "`dataset_ids` is required."),
        ({"question": "x", "dataset_ids": []}, 102, "`dataset_ids` is required."),
        ({"question": "x", "dataset_ids": "abc"}, 102, "`dataset_ids` should be a list"),
        ({"question": "x", "dataset_ids": ["nope"]}, 102, "You don't own the dataset nope."),
    ],
)
def test_dataset_validation(alice: Account, body: dict[str, Any], code: int, message: str) -> None:
    assert retrieve(alice, **body) == {"code": code, "message": message}


def test_request_validation(alice: Account, corpus: Corpus) -> None:
    base = {"dataset_ids": [corpus.dataset_id], "question": "cranes"}
    assert retrieve(alice, dataset_ids=[corpus.dataset_id]) == {
        "code": 102, "message": "`question` is required."
    }  # fmt: skip
    assert retrieve(alice, **base, document_ids="x") == {
        "code": 102, "message": "`documents` should be a list"
    }  # fmt: skip
    assert retrieve(alice, **base, document_ids=["missing"]) == {
        "code": 102, "message": "The datasets don't own the document missing"
    }  # fmt: skip
    for name, value in [("page", "x"), ("page", 0), ("page_size", 1.5), ("top_k", -1),
                        ("similarity_threshold", "high"), ("vector_similarity_weight", 2),
                        ("top_k", True)]:  # fmt: skip
        result = retrieve(alice, **base, **{name: value})
        assert result["code"] == 100 and f"`{name}`" in result["message"], (name, result)
    assert found(alice, **base, page="1", page_size="2", top_k="10")
    malformed = alice.client.post(
        "/api/v1/retrieval", content=b"{", headers={**alice.api_headers,
        "Content-Type": "application/json"},
    )  # fmt: skip
    assert malformed.json()["code"] == 101


def test_datasets_with_different_embedding_models(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    other = new_dataset(alice, name="other")
    with runtime.transaction() as session:  # API models need provider keys (the chat issue)
        dataset = session.get(Dataset, other)
        assert dataset is not None
        dataset.embedding_model = "text-embedding-3-small@OpenAI"
    result = retrieve(alice, dataset_ids=[corpus.dataset_id, other], question="cranes")
    assert result == {"code": 102, "message": 'Datasets use different embedding models."'}


def test_other_tenants_cannot_search_or_see_chunks(
    alice: Account, bob: Account, corpus: Corpus
) -> None:
    result = retrieve(bob, dataset_ids=[corpus.dataset_id], question="cranes")
    assert result == {"code": 102, "message": f"You don't own the dataset {corpus.dataset_id}."}
    mine = new_dataset(bob, name="bobs")
    result = retrieve(bob, dataset_ids=[mine], document_ids=[corpus.documents["cranes.md"]],
                      question="cranes")  # fmt: skip
    assert result == {
        "code": 102, "message": f"The datasets don't own the document {corpus.documents['cranes.md']}"
    }  # fmt: skip
    assert found(bob, dataset_ids=[mine], question="cranes") == []


def test_requires_an_api_key(client: Any, corpus: Corpus) -> None:
    result = client.post("/api/v1/retrieval", json={"dataset_ids": [corpus.dataset_id]}).json()
    assert result["code"] != 0


def test_a_renamed_document_is_found_and_shown_by_its_new_name(
    alice: Account, corpus: Corpus
) -> None:
    """A document's name is searched as its chunks' title and shown with every chunk."""
    document_id = corpus.documents["bread.md"]
    url = f"/api/v1/datasets/{corpus.dataset_id}/documents/{document_id}"

    def by_title(word: str) -> list[dict[str, Any]]:
        return found(alice, dataset_ids=[corpus.dataset_id], question=word,
                     vector_similarity_weight=0, similarity_threshold=0.01)  # fmt: skip

    assert by_title("sourdough") == []
    renamed = alice.client.put(url, json={"name": "sourdough.md"}, headers=alice.api_headers)
    assert renamed.json()["code"] == 0
    hits = by_title("sourdough")
    assert [hit["document_id"] for hit in hits] == [document_id]
    assert hits[0]["document_keyword"] == "sourdough.md"
    aggregated = retrieve(alice, dataset_ids=[corpus.dataset_id], question="sourdough")
    assert aggregated["data"]["doc_aggs"] == [
        {"doc_name": "sourdough.md", "doc_id": document_id, "count": 1}
    ]
    listed = alice.client.get(f"{url}/chunks", headers=alice.api_headers).json()["data"]
    assert {chunk["docnm_kwd"] for chunk in listed["chunks"]} == {"sourdough.md"}


def test_a_chunk_store_failure_is_a_clear_500_without_internals(
    alice: Account,
    corpus: Corpus,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    detail = "text search failed: database disk image is malformed (/srv/home/chunks.sqlite)"

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ChunkStoreError(detail)

    monkeypatch.setattr(runtime.chunks, "candidates", failing)
    with caplog.at_level(logging.ERROR, logger="ragserve.api"):
        response = alice.client.post(
            "/api/v1/retrieval",
            json={"dataset_ids": [corpus.dataset_id], "question": "cranes"},
            headers=alice.api_headers,
        )
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert response.json() == {
        "code": 500,
        "message": f"The chunk store failed to complete the request (request id {request_id}).",
    }
    assert "malformed" not in response.text and "/srv" not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and detail in logged[0].getMessage() and logged[0].exc_info


def test_other_tenants_words_neither_show_nor_move_scores(alice: Account, bob: Account) -> None:
    """Term statistics come from the datasets searched: a word in another tenant's data does
    not change how a tenant's own chunks score (issue 21, point 1)."""

    def chunks_of(account: Account, words: list[str]) -> tuple[str, dict[str, str]]:
        dataset_id = new_dataset(account, name="words")
        document_id = upload(account, dataset_id, "words.txt", b"words")
        added = {word: add(account, dataset_id, document_id, {"content": word}) for word in words}
        assert all(result["code"] == 0 for result in added.values()), added
        return dataset_id, {word: result["data"]["chunk"]["id"] for word, result in added.items()}

    def term_similarities(question: str) -> dict[str, float]:
        hits = found(bob, dataset_ids=[dataset_id], question=question,
                     vector_similarity_weight=0, similarity_threshold=0)  # fmt: skip
        return {hit["id"]: hit["term_similarity"] for hit in hits if hit["term_similarity"]}

    chunks_of(alice, ["huntera42", "huntera42 is the password", "my huntera42 account"])
    dataset_id, mine = chunks_of(bob, ["huntera42", "zqxjvk42", "huntera43"])

    probe = term_similarities("huntera42 zqxjvk42")
    control = term_similarities("huntera43 zqxjvk42")

    assert set(probe) == {mine["huntera42"], mine["zqxjvk42"]}
    assert probe[mine["huntera42"]] == pytest.approx(probe[mine["zqxjvk42"]])
    assert probe[mine["huntera42"]] == pytest.approx(control[mine["huntera43"]])
    assert probe[mine["zqxjvk42"]] == pytest.approx(control[mine["zqxjvk42"]])
    chunks_of(alice, ["zqxjvk42 zqxjvk42", "huntera43 again"])
    assert term_similarities("huntera42 zqxjvk42") == pytest.approx(probe)
