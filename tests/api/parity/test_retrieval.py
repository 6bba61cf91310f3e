"""Retrieval: ``top_k`` bounds the vector candidates only; full-text matches join them."""

from __future__ import annotations

from api.parity.test_chunks import _added, _document_with_text
from api.test_retrieval import retrieve
from conftest import Account

TEXTS = [
    "The walrus rests on the ice floe.",
    "A walrus uses its tusks to climb.",
    "Walrus calves stay with their mothers.",
    "Every walrus eats clams from the sea floor.",
]


def test_top_k_bounds_only_the_vector_side(alice: Account) -> None:
    dataset_id, document_id = _document_with_text(alice, "notes.txt")
    walrus = {_added(alice, dataset_id, document_id, content=text)["id"] for text in TEXTS}
    _added(alice, dataset_id, document_id, content="Volcanoes erupt molten rock.")
    body = {"dataset_ids": [dataset_id], "question": "walrus", "similarity_threshold": 0.1}
    data = retrieve(alice, **body, top_k=1)["data"]
    assert data["total"] == 4
    assert {chunk["id"] for chunk in data["chunks"]} == walrus
    assert all(chunk["similarity"] >= 0.1 for chunk in data["chunks"])
