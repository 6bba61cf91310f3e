"""``/v1/llm/*`` and tenant credentials, against a fake OpenAI-compatible provider over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.test_parsing import document, new_dataset, parse, upload
from conftest import Account
from helpers.fake_openai import FakeOpenAI, RecordedRequest
from ragserve.db.models import Chat, TenantModel
from ragserve.models.registry import CATALOGUE
from ragserve.runtime import Runtime
from ragserve.services.models import credentials
from ragserve.services.secrets import SecretBox
from ragserve.settings import Settings

ALICE_KEY = "sk-alice-0123456789abcdef"
BOB_KEY = "sk-bob-fedcba9876543210"
OPENAI_MODELS = {spec.name for spec in CATALOGUE if spec.factory == "OpenAI"}
EMBEDDING = "text-embedding-3-small@OpenAI"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    # text-embedding-3-small is known to have 1536 dimensions
    with FakeOpenAI(dimension=1536) as server:
        yield server


def llm(account: Account, path: str, **body: Any) -> dict[str, Any]:
    response = account.post(f"/v1/llm/{path}", json=body)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def llm_get(account: Account, path: str, **params: str) -> Any:
    response = account.get(f"/v1/llm/{path}", params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0 and body["message"] == "success", body
    return body["data"]


def set_key(account: Account, fake: FakeOpenAI, key: str, **body: Any) -> dict[str, Any]:
    return llm(account, "set_api_key", llm_factory="OpenAI", api_key=key,
               base_url=fake.base_url, **body)  # fmt: skip


def rows(runtime: Runtime, tenant_id: str) -> dict[str, TenantModel]:
    with runtime.read() as session:
        found = session.scalars(select(TenantModel).where(TenantModel.tenant_id == tenant_id))
        result = {}
        for row in found:
            session.expunge(row)
            result[f"{row.name}@{row.factory}"] = row
        return result


def requests_to(fake: FakeOpenAI, path: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == path]


# --- factories and keys ------------------------------------------------------------------


def test_factories(alice: Account) -> None:
    factories = {f["name"]: f for f in llm_get(alice, "factories")}
    assert {"OpenAI", "Ollama", "VLLM", "OpenAI-API-Compatible"} <= set(factories)
    assert not {"Builtin", "BAAI", "Youdao", "FastEmbed"} & set(factories)
    openai = factories["OpenAI"]
    assert set(openai["model_types"]) == {"chat", "embedding"}
    assert set(openai["tags"].split(",")) == {"LLM", "TEXT EMBEDDING"}
    assert openai["status"] == "1" and set(openai) >= {"logo", "rank", "create_time"}
    assert factories["VLLM"]["model_types"] == ["chat", "embedding", "rerank"]


def test_factories_need_a_login(alice: Account) -> None:
    response = alice.client.get("/v1/llm/factories")
    assert response.status_code == 401
    assert alice.client.get("/v1/llm/factories", headers=alice.api_headers).json()["code"] == 0


def test_set_api_key_tests_the_key_and_stores_it_encrypted(
    alice: Account, fake: FakeOpenAI, runtime: Runtime, settings: Settings
) -> None:
    assert set_key(alice, fake, ALICE_KEY) == {"code": 0, "message": "success", "data": True}
    [probe] = fake.requests
    assert probe.path == "/v1/embeddings" and probe.api_key == ALICE_KEY
    assert probe.body["model"] == "text-embedding-3-small"

    stored = rows(runtime, alice.id)
    assert set(stored) == {f"{name}@OpenAI" for name in OPENAI_MODELS}
    box = SecretBox(settings.signing_key())
    for row in stored.values():
        assert row.api_key_encrypted is not None
        assert ALICE_KEY not in row.api_key_encrypted and "0123456789" not in row.api_key_encrypted
        assert box.decrypt(row.api_key_encrypted) == ALICE_KEY
        assert row.api_base == fake.base_url
    assert stored["gpt-4o-mini@OpenAI"].model_type == "chat"
    assert stored["gpt-4o-mini@OpenAI"].max_tokens == 128000

    # a new key replaces the old one on the same rows
    assert set_key(alice, fake, BOB_KEY)["code"] == 0
    again = rows(runtime, alice.id)
    assert set(again) == set(stored)
    assert {box.decrypt(r.api_key_encrypted or "") for r in again.values()} == {BOB_KEY}


def test_a_rejected_key_is_reported_without_the_key(
    alice: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    key = "bad-0123456789abcdefghij"  # the fake answers 401 and quotes the key
    result = set_key(alice, fake, key)
    assert result["code"] == 102 and result["data"] is None
    message = result["message"]
    assert message.startswith(
        "Fail to access model(OpenAI/text-embedding-3-small) using this api key."
    )
    assert "rejected the API key" in message
    assert key not in message and "0123456789" not in message
    assert rows(runtime, alice.id) == {}
    assert len(fake.requests) == 1  # a rejected key is never retried

    limited = set_key(alice, fake, "limited-0123456789abcdef")
    assert limited["code"] == 102 and "rate limit" in limited["message"]
    assert "0123456789" not in limited["message"]


def test_set_api_key_with_llm_name_tests_that_model(
    alice: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    result = llm(alice, "set_api_key", llm_factory="OpenAI-API-Compatible", api_key=ALICE_KEY,
                 base_url=fake.base_url, llm_name="my-reranker", model_type="rerank")  # fmt: skip
    assert result["code"] == 0, result
    [probe] = fake.requests
    assert probe.path == "/v1/rerank" and probe.body["model"] == "my-reranker"
    assert probe.api_key == ALICE_KEY
    [row] = rows(runtime, alice.id).values()
    assert (row.name, row.factory, row.model_type) == (
        "my-reranker", "OpenAI-API-Compatible", "rerank"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"llm_factory": "OpenAI"}, 101, "required argument are missing: api_key; "),
        ({}, 101, "required argument are missing: llm_factory,api_key; "),
        ({"llm_factory": "Nope", "api_key": "k"}, 102, "LLM factory Nope is not allowed"),
        ({"llm_factory": "Builtin", "api_key": "k"}, 102, "LLM factory Builtin is not allowed"),
        ({"llm_factory": "OpenAI", "api_key": " "}, 101, "`api_key` can't be empty."),
        (
            {"llm_factory": "VLLM", "api_key": "k"},
            101,
            "ragserve knows no model of VLLM to test the key with; "
            "give `llm_name` and `model_type`.",
        ),
    ],
)
def test_set_api_key_refusals(
    alice: Account, fake: FakeOpenAI, body: dict[str, Any], code: int, message: str
) -> None:
    assert llm(alice, "set_api_key", **body) == {"code": code, "message": message, "data": None}
    assert fake.requests == []


# --- adding, listing and deleting models -------------------------------------------------


def test_add_llm_tests_and_stores_one_model(
    alice: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    result = llm(alice, "add_llm", llm_factory="OpenAI-API-Compatible",
                 llm_name="fake-chat___OpenAI-API", model_type="chat",
                 api_base=fake.base_url, api_key=ALICE_KEY, max_tokens=4096)  # fmt: skip
    assert result == {"code": 0, "message": "success", "data": True}
    [probe] = fake.requests
    assert probe.path == "/v1/chat/completions" and probe.body["model"] == "fake-chat"
    assert probe.api_key == ALICE_KEY
    row = rows(runtime, alice.id)["fake-chat@OpenAI-API-Compatible"]  # no internal suffix
    assert (row.model_type, row.max_tokens, row.api_base) == ("chat", 4096, fake.base_url)

    listed = llm_get(alice, "list", model_type="chat")
    assert listed == {
        "OpenAI-API-Compatible": [
            {"llm_name": "fake-chat", "model_type": "chat", "fid": "OpenAI-API-Compatible",
             "max_tokens": 4096, "tags": "LLM", "is_tools": False, "status": "1",
             "available": True}
        ]
    }  # fmt: skip

    assert llm(alice, "delete_llm", llm_factory="OpenAI-API-Compatible",
               llm_name="fake-chat___OpenAI-API")["data"] is True  # fmt: skip
    assert rows(runtime, alice.id) == {}


def test_add_llm_reuses_the_factory_key(
    alice: Account, fake: FakeOpenAI, runtime: Runtime, settings: Settings
) -> None:
    set_key(alice, fake, ALICE_KEY)
    result = llm(alice, "add_llm", llm_factory="OpenAI", llm_name="gpt-4.1", model_type="chat")
    assert result["code"] == 0, result
    probe = fake.requests[-1]
    assert probe.path == "/v1/chat/completions" and probe.api_key == ALICE_KEY
    row = rows(runtime, alice.id)["gpt-4.1@OpenAI"]
    assert row.api_base == fake.base_url and row.max_tokens == 8192
    assert SecretBox(settings.signing_key()).decrypt(row.api_key_encrypted or "") == ALICE_KEY


def test_add_llm_refusals(alice: Account, fake: FakeOpenAI, runtime: Runtime) -> None:
    bad = llm(alice, "add_llm", llm_factory="VLLM", llm_name="m", model_type="chat",
              api_base=fake.base_url, api_key="bad-0123456789abcdef")  # fmt: skip
    assert bad["code"] == 102 and bad["message"].startswith("Fail to access model(VLLM/m).")
    assert "0123456789" not in bad["message"]
    assert llm(alice, "add_llm", llm_factory="VLLM", llm_name="m", model_type="ocr") == {
        "code": 101,
        "message": "Model type `ocr` is not supported; use one of: chat, embedding, rerank, "
        "tts, speech2text.",
        "data": None,
    }
    missing = llm(alice, "add_llm", llm_factory="VLLM")
    assert missing["message"] == "required argument are missing: llm_name,model_type; "
    assert llm(alice, "add_llm", llm_factory="X", llm_name="m", model_type="chat")["code"] == 102
    big = llm(alice, "add_llm", llm_factory="VLLM", llm_name="m", model_type="chat",
              max_tokens="8k")  # fmt: skip
    assert big["code"] == 101
    assert len(fake.requests) == 1 and rows(runtime, alice.id) == {}


def test_keyless_self_hosted_model(alice: Account, fake: FakeOpenAI, runtime: Runtime) -> None:
    # the fake refuses calls without a key; a keyless model still sends a placeholder key
    result = llm(alice, "add_llm", llm_factory="VLLM", llm_name="local-embed",
                 model_type="embedding", api_base=fake.base_url)  # fmt: skip
    assert result["code"] == 0, result
    assert fake.requests[-1].api_key == "no-key"
    assert rows(runtime, alice.id)["local-embed@VLLM"].api_key_encrypted is None
    mine = llm_get(alice, "my_llms")
    assert mine["VLLM"]["llm"] == [
        {"type": "embedding", "name": "local-embed", "used_token": 0, "status": "1"}
    ]


def test_my_llms_shapes_and_masked_keys(alice: Account, fake: FakeOpenAI) -> None:
    assert llm_get(alice, "my_llms") == {}
    set_key(alice, fake, ALICE_KEY)
    mine = llm_get(alice, "my_llms")
    assert list(mine) == ["OpenAI"]
    assert set(mine["OpenAI"]["tags"].split(",")) == {"LLM", "TEXT EMBEDDING"}
    entries = mine["OpenAI"]["llm"]
    assert {e["name"] for e in entries} == OPENAI_MODELS
    assert all(set(e) == {"type", "name", "used_token", "status"} for e in entries)

    response = alice.get("/v1/llm/my_llms", params={"include_details": "true"})
    assert ALICE_KEY not in response.text and "0123456789" not in response.text
    detailed = response.json()["data"]["OpenAI"]["llm"]
    for entry in detailed:
        assert set(entry) == {"type", "name", "used_token", "status", "api_base", "max_tokens",
                              "api_key"}  # fmt: skip
        assert entry["api_key"] == "sk-a\u2026cdef" and entry["api_base"] == fake.base_url


def test_list_marks_available_models(alice: Account, bob: Account, fake: FakeOpenAI) -> None:
    before = llm_get(alice, "list")
    assert list(before) == ["Builtin"]
    builtin = before["Builtin"]
    assert [m["llm_name"] for m in builtin] == ["all-MiniLM-L6-v2-q8", "all-MiniLM-L6-v2"]
    assert all(m["available"] is True for m in builtin)
    set_key(alice, fake, ALICE_KEY)
    after = llm_get(alice, "list")
    assert {m["llm_name"] for m in after["OpenAI"]} == OPENAI_MODELS
    assert all(m["available"] and m["fid"] == "OpenAI" for m in after["OpenAI"])
    embeddings = llm_get(alice, "list", model_type="embed")
    assert all(m["model_type"] == "embedding" for ms in embeddings.values() for m in ms)
    assert "OpenAI" not in llm_get(bob, "list")  # alice's key is hers only


def test_delete_factory(alice: Account, bob: Account, fake: FakeOpenAI, runtime: Runtime) -> None:
    set_key(alice, fake, ALICE_KEY)
    set_key(bob, fake, BOB_KEY)
    assert llm(alice, "delete_factory", llm_factory="OpenAI")["data"] is True
    assert rows(runtime, alice.id) == {}
    assert len(rows(runtime, bob.id)) == len(OPENAI_MODELS)


# --- using the keys ----------------------------------------------------------------------


def test_credentials_order(
    alice: Account, bob: Account, fake: FakeOpenAI, runtime: Runtime, tmp_path: Path
) -> None:
    set_key(alice, fake, ALICE_KEY)
    llm(alice, "add_llm", llm_factory="VLLM", llm_name="local", model_type="chat",
        api_base=fake.base_url)  # fmt: skip
    server = Settings(home=runtime.settings.home, workers=0, llm_api_key="sk-server",
                      llm_api_base="http://server.example/v1")  # fmt: skip
    with runtime.read() as session:
        # the tenant's row for the model; then its factory key for a model not in a row
        assert credentials(session, server, alice.id, EMBEDDING) == (ALICE_KEY, fake.base_url)
        assert credentials(session, server, alice.id, "o1@OpenAI") == (ALICE_KEY, fake.base_url)
        # a keyless row of the tenant never gets the server's key
        assert credentials(session, server, alice.id, "local@VLLM") == (None, fake.base_url)
        # no row, no factory key: the server's; bob never gets alice's key
        assert credentials(session, server, bob.id, EMBEDDING) == (
            "sk-server", "http://server.example/v1"
        )  # fmt: skip
        assert credentials(session, runtime.settings, bob.id, EMBEDDING) == (None, None)
        assert credentials(session, server, None, "openai/x") == (
            "sk-server", "http://server.example/v1"
        )  # fmt: skip
        assert credentials(session, server, alice.id, "all-MiniLM-L6-v2@Builtin") == (None, None)


def test_datasets_with_an_api_embedding_model_use_each_tenants_key(
    alice: Account, bob: Account, fake: FakeOpenAI
) -> None:
    body = {"name": "d", "embedding_model": EMBEDDING}
    refused = alice.client.post("/api/v1/datasets", json=body, headers=alice.api_headers).json()
    assert refused == {"code": 101, "message": f"Unauthorized model: <{EMBEDDING}>"}

    set_key(alice, fake, ALICE_KEY)
    set_key(bob, fake, BOB_KEY)
    for account, key in ((alice, ALICE_KEY), (bob, BOB_KEY)):
        dataset_id = new_dataset(account, name="api-embedded", embedding_model=EMBEDDING)
        document_id = upload(account, dataset_id, "cranes.md", b"# Cranes\n\nCranes fly south.")
        fake.requests.clear()
        assert parse(account, dataset_id, [document_id]) == {"code": 0}
        doc = document(account, dataset_id, document_id)
        assert doc["run"] == "DONE" and doc["chunk_count"] == 1, doc["progress_msg"]
        embedded = requests_to(fake, "/v1/embeddings")
        assert embedded and {r.api_key for r in embedded} == {key}
        assert {r.body["model"] for r in embedded} == {"text-embedding-3-small"}

        fake.requests.clear()
        found = account.client.post("/api/v1/retrieval", headers=account.api_headers,
                                    json={"dataset_ids": [dataset_id], "question": "cranes",
                                          "similarity_threshold": 0}).json()  # fmt: skip
        assert found["code"] == 0 and found["data"]["chunks"], found
        assert [r.api_key for r in requests_to(fake, "/v1/embeddings")] == [key]


def test_a_chat_completion_uses_the_tenants_key(
    alice: Account, fake: FakeOpenAI, runtime: Runtime
) -> None:
    llm(alice, "add_llm", llm_factory="OpenAI-API-Compatible", llm_name="fake-chat",
        model_type="chat", api_base=fake.base_url, api_key=ALICE_KEY)  # fmt: skip
    with runtime.transaction() as session:
        # the id as RAGFlow writes it, with its internal suffix
        chat = Chat(tenant_id=alice.id, name="keyed",
                    llm_id="fake-chat___OpenAI-API@OpenAI-API-Compatible",
                    dataset_ids=[], prompt_config={"system": "Be brief.", "parameters": []},
                    llm_setting={"max_tokens": 64})  # fmt: skip
        session.add(chat)
        session.flush()
        chat_id = chat.id
    path = f"/api/v1/chats/{chat_id}/completions"
    opened = alice.client.post(path, json={"stream": False}, headers=alice.api_headers).json()
    session_id = opened["data"]["session_id"]
    fake.requests.clear()
    answered = alice.client.post(path, headers=alice.api_headers, json={
        "stream": False, "session_id": session_id, "question": "Hello?"}).json()  # fmt: skip
    assert answered["code"] == 0, answered
    assert answered["data"]["answer"] == "Fake answer to: Hello?"
    [call] = requests_to(fake, "/v1/chat/completions")
    assert call.api_key == ALICE_KEY and call.body["model"] == "fake-chat"
