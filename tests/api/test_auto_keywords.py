"""Auto keywords and questions (``parser_config.auto_keywords`` / ``auto_questions``): written
per chunk by the chat model at parse time, with the fake model server answering the prompts
(``helpers.fake_openai.option_reply``), cached, cancellable and refused without a model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.conftest import DOCS
from api.test_chunks import listing
from api.test_parsing import document, new_dataset, parse, stop, upload
from api.test_retrieval import found
from conftest import Account
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI
from ragserve.app import create_app
from ragserve.db.models import LlmCache, Tenant, TenantModel
from ragserve.rag import prompt
from ragserve.runtime import Runtime
from ragserve.services.auto_keywords import NO_MODEL
from ragserve.services.users import delete_user
from ragserve.settings import Settings

TERMS_ONLY = {"vector_similarity_weight": 0.0, "similarity_threshold": 0.1}
"""Full-text scores only: a chunk is found when the question's words are in it."""
AUTO = {"auto_keywords": 2, "auto_questions": 2}
STEP = "Auto keywords and questions"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test")


def chat_calls(fake: FakeOpenAI, template: str | None = None) -> list[dict[str, Any]]:
    """The chat requests made so far (whose system message starts as ``template`` does)."""
    start = template.split("{")[0] if template else ""
    return [
        r.body
        for r in fake.requests
        if r.path == "/v1/chat/completions"
        and str(r.body["messages"][0]["content"]).startswith(start)
    ]


def parsed_corpus(account: Account, **parser_config: Any) -> tuple[str, dict[str, str]]:
    dataset_id = new_dataset(account, name="auto", parser_config=parser_config)
    documents = {
        name: upload(account, dataset_id, name, text.encode()) for name, text in DOCS.items()
    }
    assert parse(account, dataset_id, list(documents.values())) == {"code": 0}
    return dataset_id, documents


def only_chunk(account: Account, dataset_id: str, document_id: str) -> dict[str, Any]:
    result = listing(account, dataset_id, document_id)
    assert result["code"] == 0, result
    [chunk] = result["data"]["chunks"]
    found_chunk: dict[str, Any] = chunk
    return found_chunk


def test_parse_writes_keywords_and_questions_into_each_chunk(
    alice: Account, fake: FakeOpenAI
) -> None:
    dataset_id, documents = parsed_corpus(alice, **AUTO)
    chunk = only_chunk(alice, dataset_id, documents["bread.md"])
    assert chunk["important_keywords"] == ["baking", "bread"]
    assert chunk["questions"] == [
        "What does the passage say about baking?",
        "What does the passage say about loaf?",
    ]
    cranes = only_chunk(alice, dataset_id, documents["cranes.md"])
    assert cranes["important_keywords"] == ["cranes", "large"]
    assert len(chat_calls(fake, prompt.AUTO_KEYWORDS_PROMPT)) == 3  # one per chunk and step
    [sent, *_] = chat_calls(fake, prompt.AUTO_QUESTIONS_PROMPT)
    assert "Write 2 different questions" in sent["messages"][0]["content"]
    log = document(alice, dataset_id, documents["bread.md"])["progress_msg"]
    assert (
        f"{STEP}: 2 keywords and 2 questions per chunk by {FAKE_CHAT_MODEL}; 2 model calls" in log
    )
    assert f"{STEP}: 2/2 model calls." in log
    assert f"{STEP} done: 2 model calls (" in log and "tokens), 0 from the cache." in log


def test_retrieval_finds_a_chunk_by_its_generated_question(
    alice: Account, fake: FakeOpenAI
) -> None:
    plain_id, _plain = parsed_corpus(alice)
    assert chat_calls(fake) == []  # no auto_* setting: no model call
    assert found(alice, dataset_ids=[plain_id], question="loaf", **TERMS_ONLY) == []

    dataset_id, documents = parsed_corpus(alice, auto_questions=2)
    hits = found(alice, dataset_ids=[dataset_id], question="loaf", **TERMS_ONLY)
    assert [hit["document_id"] for hit in hits] == [documents["bread.md"]]
    assert "What does the passage say about loaf?" in hits[0]["questions"]
    by_keyword = found(alice, dataset_ids=[dataset_id], question="storks", **TERMS_ONLY)
    assert [hit["document_id"] for hit in by_keyword] == [documents["cranes.md"]]


def test_a_reparse_answers_from_the_cache(alice: Account, fake: FakeOpenAI) -> None:
    dataset_id, documents = parsed_corpus(alice, **AUTO)
    first = len(chat_calls(fake))
    assert first == 6
    assert parse(alice, dataset_id, list(documents.values())) == {"code": 0}
    assert len(chat_calls(fake)) == first  # nothing paid twice
    log = document(alice, dataset_id, documents["bread.md"])["progress_msg"]
    assert (
        f"{STEP}: 2 keywords and 2 questions per chunk by {FAKE_CHAT_MODEL}; 0 model calls, 2 answered from the cache."
        in log
    )
    assert only_chunk(alice, dataset_id, documents["bread.md"])["important_keywords"] == [
        "baking",
        "bread",
    ]

    # A new N is a new prompt: asked again.
    update = {"parser_config": {"auto_keywords": 3}}
    alice.client.put(
        f"/api/v1/datasets/{dataset_id}/documents/{documents['bread.md']}",
        json=update,
        headers=alice.api_headers,
    )
    assert parse(alice, dataset_id, [documents["bread.md"]]) == {"code": 0}
    assert len(chat_calls(fake)) == first + 1
    keywords = only_chunk(alice, dataset_id, documents["bread.md"])["important_keywords"]
    assert keywords == ["baking", "bread", "knead"]


def test_the_cache_is_per_tenant_and_goes_with_it(
    alice: Account, bob: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    parsed_corpus(alice, auto_keywords=1)
    assert len(chat_calls(fake)) == 3
    dataset_id, documents = parsed_corpus(bob, auto_keywords=1)  # the same texts
    assert len(chat_calls(fake)) == 6
    assert only_chunk(bob, dataset_id, documents["bread.md"])["important_keywords"] == ["baking"]

    def cached_by() -> dict[str, int]:
        with runtime.read() as session:
            rows = session.execute(
                select(LlmCache.tenant_id, func.count()).group_by(LlmCache.tenant_id)
            )
            return {tenant_id: count for tenant_id, count in rows}

    assert cached_by() == {alice.id: 3, bob.id: 3}
    with runtime.transaction() as session:
        delete_user(session, bob.email)
    assert cached_by() == {alice.id: 3}


def test_another_tenants_dataset_is_not_reachable(alice: Account, bob: Account) -> None:
    dataset_id, documents = parsed_corpus(alice, auto_keywords=1)
    update = bob.client.put(
        f"/api/v1/datasets/{dataset_id}",
        json={"parser_config": {"auto_keywords": 5}},
        headers=bob.api_headers,
    ).json()
    assert update["code"] == 108, update
    again = parse(bob, dataset_id, list(documents.values()))
    assert again["code"] == 102 and "You don't own the dataset" in again["message"]


NOTES = "\n\n".join(f"Paragraph {n} tells of herons number {n}." for n in range(8))


def test_stopping_the_parse_stops_the_model_calls_and_a_new_parse_resumes(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    settings = fake.settings(tmp_path / "held", "held")  # every chat call waits for release()
    settings = settings.model_copy(update={"chunk_llm_concurrency": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        account = Account(client, "carol@example.com")
        config = {"chunk_token_num": 8, "auto_keywords": 1}
        dataset_id = new_dataset(account, name="held", parser_config=config)
        document_id = upload(account, dataset_id, "notes.txt", NOTES.encode())
        answers: dict[str, Any] = {}
        parsing = threading.Thread(
            target=lambda: answers.update(parse=parse(account, dataset_id, [document_id]))
        )
        parsing.start()
        try:
            fake.wait_held(1)  # the first call goes alone
            fake.release()
            fake.hold()
            fake.wait_held(2)  # then the bound: two calls at once
            running = document(account, dataset_id, document_id)
            assert running["run"] == "RUNNING"
            assert f"{STEP}: 1 keywords and 0 questions per chunk" in running["progress_msg"]
            assert stop(account, dataset_id, [document_id]) == {"code": 0}
        finally:
            fake.release()
            parsing.join(timeout=60)
        assert answers["parse"] == {"code": 0}
        stopped = document(account, dataset_id, document_id)
        assert (stopped["run"], stopped["chunk_count"]) == ("CANCEL", 0)
        assert len(chat_calls(fake)) == 3  # no call started after the stop

        assert parse(account, dataset_id, [document_id]) == {"code": 0}
        done = document(account, dataset_id, document_id)
        assert done["run"] == "DONE", done["progress_msg"]
        assert done["chunk_count"] > 5
        asked = [call["messages"][1]["content"] for call in chat_calls(fake)]
        assert len(asked) == len(set(asked))  # the 3 answered before the stop not asked again
        assert f"{len(asked) - 3} model calls, 3 answered from the cache." in done["progress_msg"]


def test_a_failing_model_fails_the_parse_with_a_clear_message(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    settings = fake.settings(tmp_path / "bad", "bad")  # the fake answers 401
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        account = Account(client, "carol@example.com")
        dataset_id = new_dataset(account, name="bad", parser_config={"auto_questions": 1})
        document_id = upload(account, dataset_id, "bread.md", DOCS["bread.md"].encode())
        assert parse(account, dataset_id, [document_id]) == {"code": 0}
        failed = document(account, dataset_id, document_id)
    assert (failed["run"], failed["chunk_count"]) == ("FAIL", 0)
    last = failed["progress_msg"].splitlines()[-1]
    assert f"[ERROR] {STEP} failed: Chat model {FAKE_CHAT_MODEL}" in last
    assert "Traceback" not in last and "bad" not in last.split("failed:")[1].lower().split()[:3]


def test_without_a_chat_model_the_settings_are_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "none", workers=0)  # no chat model anywhere
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        account = Account(client, "carol@example.com")
        headers = account.api_headers
        body = {"name": "auto", "parser_config": {"auto_keywords": 3}}
        refused = client.post("/api/v1/datasets", json=body, headers=headers).json()
        assert refused == {"code": 102, "message": NO_MODEL}

        plain = {"name": "plain", "parser_config": {"auto_keywords": 0, "auto_questions": 0}}
        created = client.post("/api/v1/datasets", json=plain, headers=headers).json()
        assert created["code"] == 0, created
        dataset_id = created["data"]["id"]
        update = {"parser_config": {"auto_questions": 1}}
        url = f"/api/v1/datasets/{dataset_id}"
        assert client.put(url, json=update, headers=headers).json() == {
            "code": 102,
            "message": NO_MODEL,
        }
        stored = client.get("/api/v1/datasets", params={"id": dataset_id}, headers=headers)
        assert stored.json()["data"][0]["parser_config"]["auto_questions"] == 0

        document_id = upload(account, dataset_id, "a.txt", b"some text")
        document_url = f"{url}/documents/{document_id}"
        assert client.put(document_url, json=update, headers=headers).json() == {
            "code": 102,
            "message": NO_MODEL,
        }
        assert document(account, dataset_id, document_id)["parser_config"]["auto_questions"] == 0
        renamed = client.put(url, json={"name": "renamed"}, headers=headers).json()
        assert renamed["code"] == 0, renamed


def test_auto_keywords_out_of_range_is_a_validation_error(alice: Account) -> None:
    body = {"name": "bad", "parser_config": {"auto_keywords": 33}}
    result = alice.client.post("/api/v1/datasets", json=body, headers=alice.api_headers).json()
    assert result["code"] == 101 and "auto_keywords" in result["message"]


def test_the_tokens_used_are_counted_on_the_tenants_model(
    alice: Account, runtime: Runtime, fake: FakeOpenAI
) -> None:
    with runtime.transaction() as session:
        session.add(
            TenantModel(
                tenant_id=alice.id,
                factory="OpenAI",
                name="gpt-4o-mini",
                model_type="chat",
                api_base=fake.base_url,
            )
        )
        tenant = session.get(Tenant, alice.id)
        assert tenant is not None
        tenant.llm_id = "gpt-4o-mini@OpenAI"
    dataset_id, documents = parsed_corpus(alice, auto_keywords=1)
    [sent, *_] = chat_calls(fake)
    assert sent["model"] == "gpt-4o-mini"
    with runtime.read() as session:
        row = session.scalars(select(TenantModel).where(TenantModel.tenant_id == alice.id)).one()
        used = row.used_tokens
    log = document(alice, dataset_id, documents["bread.md"])["progress_msg"]
    tokens = int(log.split(f"{STEP} done: 1 model calls (")[1].split(" tokens")[0])
    assert used > tokens > 0  # three documents' calls on the row, one document's in its log
