"""``/v1/conversation/mindmap``: the search page's mind map of a question for a web login,
drawn as the embedded page's ``/api/v1/searchbots/mindmap`` draws it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.conftest import Corpus
from api.test_bots import beta_headers
from api.test_bots_search import post, reply
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def test_the_web_route_draws_the_same_map(alice: Account, corpus: Corpus) -> None:
    body = {"question": "cranes", "kb_ids": [corpus.dataset_id]}
    drawn = alice.client.post("/v1/conversation/mindmap", json=body, headers=alice.web_headers)
    assert drawn.json()["code"] == 0, drawn.json()
    embedded = post(alice, "mindmap", beta_headers(alice), **body)
    assert drawn.json() == embedded
    assert drawn.json()["data"]["children"]


def test_checked_like_the_embedded_route(alice: Account, bob: Account, corpus: Corpus) -> None:
    body = {"question": "cranes", "kb_ids": [corpus.dataset_id]}
    refused = bob.client.post("/v1/conversation/mindmap", json=body, headers=bob.web_headers)
    assert (
        refused.json()["code"] == 102 and "You don't own the dataset" in refused.json()["message"]
    )
    missing = alice.client.post(
        "/v1/conversation/mindmap", json={"question": "q"}, headers=alice.web_headers
    ).json()
    assert missing["code"] == 101 and "kb_ids" in missing["message"], missing
    anonymous = alice.client.post("/v1/conversation/mindmap", json=body)
    assert anonymous.status_code == 401
