"""Tag sets: a ``tag`` dataset's examples tag the chunks of datasets naming it in
``tag_kb_ids`` at parse time, and retrieval raises the chunks whose tags match the question's."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_parsing import document, new_dataset, parse, upload
from api.test_retrieval import found
from conftest import Account
from ragserve.runtime import Runtime
from ragserve.services.tags import TAG_FEATURES, TAG_WEIGHT

EXAMPLES = (
    b"content,tags\n"
    b"How to bake sourdough bread,baking\n"
    b"Oven temperature for bread rolls,baking\n"
    b"Cranes migrate in autumn,birds\n"
    b"Herons nest by lakes,birds\n"
)
BREAD = b"Knead the dough and bake the bread in a hot oven."
CRANES = b"Whooping cranes migrate south every autumn."


def tag_set(account: Account) -> str:
    dataset_id = new_dataset(account, name="tags", chunk_method="tag")
    document_id = upload(account, dataset_id, "tags.csv", EXAMPLES)
    assert parse(account, dataset_id, [document_id]) == {"code": 0}
    return dataset_id


def corpus(account: Account, name: str, **parser_config: Any) -> tuple[str, dict[str, str]]:
    dataset_id = new_dataset(account, name=name, parser_config=parser_config)
    ids = {
        "bread": upload(account, dataset_id, "bread.txt", BREAD),
        "cranes": upload(account, dataset_id, "cranes.txt", CRANES),
    }
    assert parse(account, dataset_id, list(ids.values())) == {"code": 0}
    return dataset_id, ids


def tags_of(runtime: Runtime, document_id: str) -> Any:
    [chunk], _total = runtime.chunks.list_document_chunks(document_id)
    return chunk.fields.get(TAG_FEATURES)


def test_chunks_get_the_tags_of_the_examples_they_resemble(
    alice: Account, runtime: Runtime
) -> None:
    tags_id = tag_set(alice)
    dataset_id, ids = corpus(alice, "tagged", tag_kb_ids=[tags_id], topn_tags=1)
    assert tags_of(runtime, ids["bread"]) == {"baking": 1.0}
    assert tags_of(runtime, ids["cranes"]) == {"birds": 1.0}
    log = document(alice, dataset_id, ids["bread"])["progress_msg"]
    assert "Tagging: 1 of 1 chunks tagged from 1 tag sets." in log

    _plain_id, plain = corpus(alice, "plain")
    assert tags_of(runtime, plain["bread"]) is None


def test_two_tags_share_the_weight(alice: Account, runtime: Runtime) -> None:
    tags_id = tag_set(alice)
    mixed = new_dataset(
        alice, name="mixed", parser_config={"tag_kb_ids": [tags_id], "topn_tags": 2}
    )
    document_id = upload(alice, mixed, "both.txt", b"Bake bread while cranes migrate in autumn.")
    assert parse(alice, mixed, [document_id]) == {"code": 0}
    weights = tags_of(runtime, document_id)
    assert set(weights) == {"baking", "birds"}
    assert sum(weights.values()) == pytest.approx(1.0, abs=0.001)


def test_retrieval_raises_chunks_whose_tags_match_the_question(
    alice: Account,
) -> None:
    tags_id = tag_set(alice)
    tagged_id, tagged = corpus(alice, "tagged", tag_kb_ids=[tags_id], topn_tags=1)
    plain_id, plain = corpus(alice, "plain")
    question = {"question": "how hot should the oven be to bake bread", "similarity_threshold": 0.0}
    boosted = {
        hit["document_id"]: hit["similarity"]
        for hit in found(alice, dataset_ids=[tagged_id], **question)
    }
    base = {
        hit["document_id"]: hit["similarity"]
        for hit in found(alice, dataset_ids=[plain_id], **question)
    }
    assert boosted[tagged["bread"]] == pytest.approx(base[plain["bread"]] + TAG_WEIGHT, abs=1e-6)
    assert boosted.get(tagged["cranes"], 0.0) == pytest.approx(
        base.get(plain["cranes"], 0.0), abs=1e-6
    )


def test_another_tenants_tag_set_tags_nothing(
    alice: Account, bob: Account, runtime: Runtime
) -> None:
    alices = tag_set(alice)
    _dataset_id, ids = corpus(bob, "bobs", tag_kb_ids=[alices], topn_tags=1)
    assert tags_of(runtime, ids["bread"]) is None
