"""``/api/v1/chats``: fields, defaults, checks and messages of spec 2.5, and tenant isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.conftest import Corpus
from api.test_parsing import new_dataset, parse, upload
from conftest import Account
from ragserve.db.models import Chat, Dataset, Tenant, TenantModel
from ragserve.runtime import Runtime
from ragserve.settings import Settings

URL = "/api/v1/chats"
UNKNOWN_ID = "9f3c1a2e0c1811ef8c0a0242ac120002"
DEFAULT_MODEL = "gpt-4o-mini@OpenAI"
TENANT_CHAT_MODEL = "qwen2.5:7b@Ollama"
TENANT_RERANK_MODEL = "rerank-english-v3.0@Cohere"
LLM_DEFAULTS = {
    "temperature": 0.1,
    "top_p": 0.3,
    "frequency_penalty": 0.7,
    "presence_penalty": 0.4,
    "max_tokens": 512,
}
SDK_PROMPT_TEXT = "Answer from {knowledge} only."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """New tenants get ``DEFAULT_MODEL`` as their chat model (their ``llm_id``)."""
    return Settings(home=tmp_path / "home", workers=0, default_chat_model=DEFAULT_MODEL)


def create(account: Account, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = account.client.post(URL, json=body, headers=account.api_headers).json()
    return result


def created(account: Account, **body: Any) -> dict[str, Any]:
    result = create(account, **body)
    assert result["code"] == 0, result
    data: dict[str, Any] = result["data"]
    return data


def update(account: Account, chat_id: str, body: Any) -> dict[str, Any]:
    response = account.client.put(f"{URL}/{chat_id}", json=body, headers=account.api_headers)
    result: dict[str, Any] = response.json()
    return result


def delete(account: Account, body: Any = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = account.client.request("DELETE", URL, headers=account.api_headers, **kwargs)
    result: dict[str, Any] = response.json()
    return result


def listing(account: Account, **query: Any) -> dict[str, Any]:
    response = account.client.get(URL, params=query, headers=account.api_headers)
    result: dict[str, Any] = response.json()
    return result


def listed(account: Account, **query: Any) -> list[dict[str, Any]]:
    result = listing(account, **query)
    assert result["code"] == 0, result
    chats: list[dict[str, Any]] = result["data"]
    return chats


def one(account: Account, chat_id: str) -> dict[str, Any]:
    (chat,) = listed(account, id=chat_id)
    return chat


def parsed_dataset(account: Account, name: str) -> str:
    dataset_id = new_dataset(account, name=name)
    document_id = upload(account, dataset_id, "notes.md", b"# Notes\n\nOwls hunt at night.")
    assert parse(account, dataset_id, [document_id]) == {"code": 0}
    return dataset_id


def add_tenant_model(runtime: Runtime, tenant_id: str, model_id: str, model_type: str) -> None:
    name, factory = model_id.rsplit("@", 1)
    with runtime.transaction() as session:
        session.add(
            TenantModel(tenant_id=tenant_id, factory=factory, name=name, model_type=model_type)
        )


def stored(runtime: Runtime, chat_id: str) -> Chat:
    with runtime.read() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None
        session.expunge(chat)
        return chat


# --- create ------------------------------------------------------------------------------------


def test_create_with_defaults(alice: Account) -> None:
    result = create(alice, name="assistant")
    assert result["code"] == 0 and "message" not in result
    data = result["data"]
    assert len(data["id"]) == 32 and int(data["id"], 16)
    assert (data["name"], data["tenant_id"]) == ("assistant", alice.id)
    assert (data["description"], data["avatar"], data["language"]) == (
        "A helpful Assistant",
        "",
        "English",
    )
    assert data["llm"] == {**LLM_DEFAULTS, "model_name": DEFAULT_MODEL}
    prompt = data["prompt"]
    assert "{knowledge}" in prompt.pop("prompt")
    assert prompt == {
        "opener": "Hi! I'm your assistant. What can I do for you?",
        "variables": [{"key": "knowledge", "optional": False}],
        "empty_response": "Sorry! No relevant content was found in the knowledge base!",
        "show_quote": True,
        "tts": False,
        "refine_multiturn": True,
        "similarity_threshold": 0.2,
        "keywords_similarity_weight": 0.7,
        "top_n": 6,
        "top_k": 1024,
        "rerank_model": "",
    }
    assert (data["prompt_type"], data["do_refer"], data["status"]) == ("simple", "1", "1")
    assert data["dataset_ids"] == [] and data["meta_data_filter"] == {}
    assert data["create_date"].endswith(" GMT") and isinstance(data["create_time"], int)
    assert data["update_time"] >= data["create_time"]


def test_create_as_the_sdk_does(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    """ragflow-sdk's ``create_chat`` body: null model and empty_response, optional variable."""
    body = {
        "name": "sdk",
        "avatar": "",
        "dataset_ids": [corpus.dataset_id],
        "llm": {"model_name": None, "temperature": 0.1, "top_p": 0.3, "presence_penalty": 0.4,
                "frequency_penalty": 0.7, "max_tokens": 512},
        "prompt": {"similarity_threshold": 0.2, "keywords_similarity_weight": 0.7, "top_n": 8,
                   "top_k": 1024, "variables": [{"key": "knowledge", "optional": True}],
                   "rerank_model": "", "empty_response": None,
                   "opener": "Hi! I'm your assistant. What can I do for you?",
                   "show_quote": True, "prompt": SDK_PROMPT_TEXT},
    }  # fmt: skip
    data = created(alice, **body)
    assert data["dataset_ids"] == [corpus.dataset_id]
    assert data["llm"]["model_name"] == DEFAULT_MODEL
    assert data["prompt"]["prompt"] == SDK_PROMPT_TEXT
    assert data["prompt"]["empty_response"] is None
    assert data["prompt"]["variables"] == [{"key": "knowledge", "optional": True}]
    # RAGFlow's quirk: the keywords weight is stored as the vector weight and shown as 1 - it
    assert data["prompt"]["top_n"] == 8
    assert data["prompt"]["keywords_similarity_weight"] == pytest.approx(0.3)
    chat = stored(runtime, data["id"])
    assert chat.vector_similarity_weight == 0.7
    assert chat.prompt_config["system"] == SDK_PROMPT_TEXT


def test_create_with_every_field(alice: Account, corpus: Corpus, runtime: Runtime) -> None:
    add_tenant_model(runtime, alice.id, TENANT_CHAT_MODEL, "chat")
    add_tenant_model(runtime, alice.id, TENANT_RERANK_MODEL, "rerank")
    condition = {"method": "manual", "manual": [{"key": "a", "op": "=", "value": "b"}]}
    data = created(
        alice,
        name="full",
        avatar="data:image/png;base64,AAAA",
        description=None,
        language="German",
        prompt_type="advanced",
        meta_data_filter=condition,
        show_quotation=False,
        dataset_ids=[corpus.dataset_id, "", corpus.dataset_id],
        llm={"model_name": TENANT_CHAT_MODEL, "temperature": 1, "max_tokens": 64, "seed": 7},
        prompt={
            "prompt": "Use {knowledge} in {lang}.",
            "opener": "Hallo!",
            "variables": [{"key": "knowledge"}, {"key": "lang", "optional": True}],
            "show_quote": False,
            "empty_response": "",
            "tts": True,
            "refine_multiturn": False,
            "similarity_threshold": 0.5,
            "keywords_similarity_weight": 0.25,
            "top_n": 3,
            "top_k": 50,
            "rerank_model": TENANT_RERANK_MODEL,
            "keyword": True,
            "cross_languages": ["English"],
        },
    )
    assert (data["avatar"], data["description"], data["language"]) == (
        "data:image/png;base64,AAAA",
        None,
        "German",
    )
    assert (data["prompt_type"], data["do_refer"]) == ("advanced", "0")
    assert data["meta_data_filter"] == condition
    assert data["dataset_ids"] == [corpus.dataset_id]
    assert data["llm"] == {
        **LLM_DEFAULTS, "temperature": 1.0, "max_tokens": 64, "seed": 7,
        "model_name": TENANT_CHAT_MODEL,
    }  # fmt: skip
    assert data["prompt"] == {
        "prompt": "Use {knowledge} in {lang}.",
        "opener": "Hallo!",
        "variables": [{"key": "knowledge", "optional": False}, {"key": "lang", "optional": True}],
        "show_quote": False,
        "empty_response": "",
        "tts": True,
        "refine_multiturn": False,
        "similarity_threshold": 0.5,
        "keywords_similarity_weight": 0.75,
        "top_n": 3,
        "top_k": 50,
        "rerank_model": TENANT_RERANK_MODEL,
        "keyword": True,
        "cross_languages": ["English"],
    }
    assert stored(runtime, data["id"]).vector_similarity_weight == 0.25


def test_internal_prompt_names_are_accepted(alice: Account) -> None:
    prompt = {"system": "Known: {knowledge}", "prologue": "Yo", "quote": False}
    data = created(alice, name="internal", prompt=prompt)["prompt"]
    assert (data["prompt"], data["opener"], data["show_quote"]) == (
        "Known: {knowledge}",
        "Yo",
        False,
    )
    both = {"system": "ignored {knowledge}", "prompt": "wins {knowledge}"}
    assert created(alice, name="both", prompt=both)["prompt"]["prompt"] == "wins {knowledge}"


def test_empty_system_prompt_means_the_default(alice: Account) -> None:
    data = created(alice, name="empty", prompt={"prompt": ""})
    assert "{knowledge}" in data["prompt"]["prompt"]


def test_chat_without_a_configured_model(alice: Account, runtime: Runtime) -> None:
    with runtime.transaction() as session:
        tenant = session.get(Tenant, alice.id)
        assert tenant is not None
        tenant.llm_id = ""
    data = created(alice, name="extractive", llm={"model_name": ""})
    assert data["llm"]["model_name"] == ""


def test_name_is_stripped_and_duplicates_ignore_case(alice: Account, bob: Account) -> None:
    first = created(alice, name="  Ärger  ")
    assert first["name"] == "Ärger"
    assert create(alice, name="äRGER") == {
        "code": 102,
        "message": "Duplicated chat name in creating chat.",
    }
    assert created(bob, name="Ärger")["name"] == "Ärger"  # names are per tenant
    assert delete(alice, {"ids": [first["id"]]}) == {"code": 0}
    assert created(alice, name="ärger")["name"] == "ärger"  # deleted chats free their name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "`name` is required."),
        ({"name": ""}, "`name` is required."),
        ({"name": "   "}, "`name` is required."),
        ({"name": "x", "tenant_id": "someone"}, "`tenant_id` must not be provided."),
        (
            {"name": "x", "llm": {"model_name": "nope@OpenAI"}},
            "`model_name` nope@OpenAI doesn't exist",
        ),
        (
            {"name": "x", "prompt": {"rerank_model": "BAAI/bge-reranker-v2-m3"}},
            "`rerank_model` BAAI/bge-reranker-v2-m3 doesn't exist",
        ),
        (
            {"name": "x", "prompt": {"prompt": "No placeholder."}},
            "Parameter 'knowledge' is not used",
        ),
        (
            {"name": "x", "prompt": {"variables": [{"key": "lang", "optional": False}]}},
            "Parameter 'lang' is not used",
        ),
        ({"name": "x", "dataset_ids": [UNKNOWN_ID]}, f"You don't own the dataset {UNKNOWN_ID}"),
        # RAGFlow's order: datasets, model, rerank model, name, tenant_id, parameters.
        ({"dataset_ids": [UNKNOWN_ID]}, f"You don't own the dataset {UNKNOWN_ID}"),
        (
            {"llm": {"model_name": "nope"}, "prompt": {"rerank_model": "r"}},
            "`model_name` nope doesn't exist",
        ),
        ({"prompt": {"rerank_model": "r"}}, "`rerank_model` r doesn't exist"),
        ({"tenant_id": "t", "prompt": {"prompt": "x"}}, "`name` is required."),
        (
            {"name": "x", "tenant_id": "t", "prompt": {"prompt": "x"}},
            "`tenant_id` must not be provided.",
        ),
    ],
)
def test_create_checks(alice: Account, body: dict[str, Any], message: str) -> None:
    assert create(alice, **body) == {"code": 102, "message": message}
    assert listed(alice) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 7}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "x", "dataset_ids": "abc"}, "dataset_ids"),
        ({"name": "x", "dataset_ids": [1]}, "dataset_ids.0"),
        ({"name": "x", "llm": {"temperature": "hot"}}, "llm.temperature"),
        ({"name": "x", "llm": {"max_tokens": 0}}, "llm.max_tokens"),
        ({"name": "x", "llm": "gpt"}, "llm"),
        (
            {"name": "x", "prompt": {"keywords_similarity_weight": 1.5}},
            "prompt.keywords_similarity_weight",
        ),
        ({"name": "x", "prompt": {"similarity_threshold": -0.1}}, "prompt.similarity_threshold"),
        ({"name": "x", "prompt": {"top_n": -1}}, "prompt.top_n"),
        ({"name": "x", "prompt": {"top_k": 10_001}}, "prompt.top_k"),
        ({"name": "x", "prompt": {"show_quote": "yes"}}, "prompt.show_quote"),
        ({"name": "x", "prompt": {"variables": [{"optional": True}]}}, "prompt.variables.0.key"),
        ({"name": "x", "prompt_type": "fancy"}, "prompt_type"),
        ({"name": "x", "meta_data_filter": []}, "meta_data_filter"),
        ({"name": "x", "show_quotation": "maybe"}, "show_quotation"),
    ],
)
def test_create_refuses_wrong_types(alice: Account, body: dict[str, Any], field: str) -> None:
    result = create(alice, **body)
    assert result["code"] == 101, result
    assert result["message"].startswith(f"Field: <{field}> - Message: <"), result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "Malformed JSON syntax: Missing commas/brackets or invalid encoding"),
        (b"[1]", "Invalid request payload: expected object, got list"),
    ],
)
def test_create_refuses_bad_json(alice: Account, content: bytes, message: str) -> None:
    headers = {**alice.api_headers, "Content-Type": "application/json"}
    result = alice.client.post(URL, content=content, headers=headers).json()
    assert result == {"code": 101, "message": message}


def test_create_checks_every_dataset(alice: Account, bob: Account, corpus: Corpus) -> None:
    bobs = parsed_dataset(bob, "bob's")
    assert create(alice, name="x", dataset_ids=[corpus.dataset_id, bobs]) == {
        "code": 102,
        "message": f"You don't own the dataset {bobs}",
    }
    empty = new_dataset(alice, name="unparsed")
    assert create(alice, name="x", dataset_ids=[empty, UNKNOWN_ID]) == {
        "code": 102,
        "message": f"The dataset {empty} doesn't own parsed file",
    }


def test_datasets_must_share_the_embedding_model_name(
    alice: Account, corpus: Corpus, runtime: Runtime
) -> None:
    other = parsed_dataset(alice, "other")

    def set_model(model_id: str) -> None:
        with runtime.transaction() as session:
            dataset = session.get(Dataset, other)
            assert dataset is not None
            dataset.embedding_model = model_id

    set_model("text-embedding-3-small@OpenAI")
    assert create(alice, name="x", dataset_ids=[corpus.dataset_id, other]) == {
        "code": 109,
        "message": 'Datasets use different embedding models."',
    }
    set_model("all-MiniLM-L6-v2@HuggingFace")  # the same model name: the factory is ignored
    assert created(alice, name="x", dataset_ids=[corpus.dataset_id, other])["dataset_ids"] == [
        corpus.dataset_id,
        other,
    ]


def test_api_key_is_required(alice: Account) -> None:
    result = alice.client.post(URL, json={"name": "x"}).json()
    assert result["code"] == 109 and result["data"] is False


# --- update ------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(alice: Account, corpus: Corpus) -> None:
    chat = created(alice, name="before", dataset_ids=[corpus.dataset_id], llm={"top_p": 0.9})
    body = {
        "name": "after",
        "avatar": "a.png",
        "description": "new",
        "language": "French",
        "show_quotation": False,
        "meta_data_filter": {"method": "auto"},
        "llm": {"temperature": 0.5},
        "prompt": {"opener": "Salut", "keywords_similarity_weight": 0.4, "top_k": 64, "tts": True},
        "id": "ignored",
        "status": "0",
    }
    assert update(alice, chat["id"], body) == {"code": 0}
    after = one(alice, chat["id"])
    assert (after["name"], after["avatar"], after["description"]) == ("after", "a.png", "new")
    assert (after["language"], after["do_refer"], after["status"]) == ("French", "0", "1")
    assert after["meta_data_filter"] == {"method": "auto"}
    assert after["llm"] == {
        **LLM_DEFAULTS, "top_p": 0.9, "temperature": 0.5, "model_name": DEFAULT_MODEL,
    }  # fmt: skip
    assert after["prompt"] == {
        **chat["prompt"], "opener": "Salut", "keywords_similarity_weight": 0.6, "top_k": 64,
        "tts": True,
    }  # fmt: skip
    assert after["dataset_ids"] == [corpus.dataset_id]  # absent dataset_ids: kept
    assert after["update_time"] >= chat["update_time"]


def test_update_dataset_ids(alice: Account, corpus: Corpus) -> None:
    chat = created(alice, name="c")
    assert update(alice, chat["id"], {"dataset_ids": [corpus.dataset_id]}) == {"code": 0}
    assert one(alice, chat["id"])["dataset_ids"] == [corpus.dataset_id]
    assert update(alice, chat["id"], {"dataset_ids": []}) == {"code": 0}
    assert one(alice, chat["id"])["dataset_ids"] == []


def test_update_model(alice: Account, runtime: Runtime) -> None:
    add_tenant_model(runtime, alice.id, TENANT_CHAT_MODEL, "chat")
    add_tenant_model(runtime, alice.id, TENANT_RERANK_MODEL, "rerank")
    chat = created(alice, name="c")
    body = {
        "llm": {"model_name": TENANT_CHAT_MODEL},
        "prompt": {"rerank_model": TENANT_RERANK_MODEL},
    }
    assert update(alice, chat["id"], body) == {"code": 0}
    after = one(alice, chat["id"])
    assert (after["llm"]["model_name"], after["prompt"]["rerank_model"]) == (
        TENANT_CHAT_MODEL,
        TENANT_RERANK_MODEL,
    )
    body = {"llm": {"model_name": None}, "prompt": {"rerank_model": ""}}
    assert update(alice, chat["id"], body) == {"code": 0}
    after = one(alice, chat["id"])
    assert (after["llm"]["model_name"], after["prompt"]["rerank_model"]) == (DEFAULT_MODEL, "")


def test_update_may_change_the_case_of_the_name(alice: Account) -> None:
    chat = created(alice, name="Case")
    assert update(alice, chat["id"], {"name": "CASE"}) == {"code": 0}
    assert one(alice, chat["id"])["name"] == "CASE"


def test_update_with_an_empty_body_changes_nothing(alice: Account) -> None:
    chat = created(alice, name="same")
    assert update(alice, chat["id"], {}) == {"code": 0}
    assert one(alice, chat["id"]) == {**chat, "datasets": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "`name` cannot be empty."),
        ({"name": None}, "`name` cannot be empty."),
        ({"name": "Taken"}, "Duplicated chat name in updating chat."),
        ({"name": "tAKEN"}, "Duplicated chat name in updating chat."),
        ({"tenant_id": "other"}, "`tenant_id` must not be provided."),
        ({"dataset_ids": [UNKNOWN_ID]}, f"You don't own the dataset {UNKNOWN_ID}"),
        ({"llm": {"model_name": "nope"}}, "`model_name` nope doesn't exist"),
        ({"prompt": {"rerank_model": "nope"}}, "`rerank_model` nope doesn't exist"),
        ({"prompt": {"prompt": "no placeholder"}}, "Parameter 'knowledge' is not used"),
        ({"prompt": {"prompt": None}}, "Parameter 'knowledge' is not used"),
        ({"prompt": {"variables": [{"key": "x"}]}}, "Parameter 'x' is not used"),
    ],
)
def test_update_checks(alice: Account, body: dict[str, Any], message: str) -> None:
    created(alice, name="Taken")
    chat = created(alice, name="mine")
    assert update(alice, chat["id"], body) == {"code": 102, "message": message}
    assert one(alice, chat["id"]) == {**chat, "datasets": []}


def test_update_refuses_wrong_types(alice: Account) -> None:
    chat = created(alice, name="typed")
    result = update(alice, chat["id"], {"prompt": {"top_n": "5"}})
    assert result["code"] == 101 and result["message"].startswith("Field: <prompt.top_n>")


def test_update_unparsed_dataset(alice: Account) -> None:
    chat = created(alice, name="c")
    empty = new_dataset(alice, name="unparsed")
    assert update(alice, chat["id"], {"dataset_ids": [empty]}) == {
        "code": 102,
        "message": f"The dataset {empty} doesn't own parsed file",
    }


def test_update_of_unknown_foreign_or_deleted_chats(alice: Account, bob: Account) -> None:
    bobs = created(bob, name="bob's")
    gone = created(alice, name="gone")
    assert delete(alice, {"ids": [gone["id"]]}) == {"code": 0}
    for chat_id in (UNKNOWN_ID, "not-an-id", bobs["id"], gone["id"]):
        assert update(alice, chat_id, {"name": "taken over"}) == {
            "code": 102,
            "message": "You do not own the chat",
        }
    assert one(bob, bobs["id"])["name"] == "bob's"


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft(alice: Account, runtime: Runtime) -> None:
    chat = created(alice, name="soft")
    keep = created(alice, name="keep")
    assert delete(alice, {"ids": [chat["id"]]}) == {"code": 0}
    assert [c["id"] for c in listed(alice)] == [keep["id"]]
    row = stored(runtime, chat["id"])
    assert (row.status, row.name) == ("0", "soft")


@pytest.mark.parametrize("body", [None, {}, {"ids": None}, {"ids": []}])
def test_delete_without_ids_deletes_all_of_the_callers(
    alice: Account, bob: Account, body: Any
) -> None:
    created(alice, name="a")
    created(alice, name="b")
    bobs = created(bob, name="c")
    assert delete(alice, body) == {"code": 0}
    assert listed(alice) == []
    assert [c["id"] for c in listed(bob)] == [bobs["id"]]


def test_delete_reports_unknown_and_repeated_ids(alice: Account, bob: Account) -> None:
    first, second = created(alice, name="a"), created(alice, name="b")
    bobs = created(bob, name="c")
    assert delete(alice, {"ids": [UNKNOWN_ID]}) == {
        "code": 102,
        "message": f"Assistant({UNKNOWN_ID}) not found.",
    }
    assert delete(alice, {"ids": [bobs["id"], UNKNOWN_ID]}) == {
        "code": 102,
        "message": f"Assistant({bobs['id']}) not found.; Assistant({UNKNOWN_ID}) not found.",
    }
    assert delete(alice, {"ids": [first["id"], first["id"]]}) == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"Duplicate assistant ids: {first['id']}"]},
    }
    assert delete(alice, {"ids": [first["id"], second["id"], second["id"]]}) == {
        "code": 0,
        "data": {"success_count": 1, "errors": [f"Assistant({first['id']}) not found."]},
    }
    assert listed(alice) == []
    assert [c["id"] for c in listed(bob)] == [bobs["id"]]


def test_delete_refuses_wrong_types(alice: Account) -> None:
    result = delete(alice, {"ids": "abc"})
    assert result["code"] == 101 and result["message"].startswith("Field: <ids>")


# --- list --------------------------------------------------------------------------------------


def test_list_returns_every_field_with_the_datasets(alice: Account, corpus: Corpus) -> None:
    chat = created(alice, name="listed", dataset_ids=[corpus.dataset_id])
    (item,) = listed(alice)
    datasets = item.pop("datasets")
    assert item == chat
    (dataset,) = datasets
    assert (dataset["id"], dataset["name"], dataset["document_count"]) == (
        corpus.dataset_id,
        "retrieval",
        3,
    )
    assert (
        dataset["chunk_count"] > 0 and dataset["embedding_model"] == "all-MiniLM-L6-v2-q8@Builtin"
    )


def test_list_leaves_out_deleted_datasets(alice: Account, corpus: Corpus) -> None:
    other = parsed_dataset(alice, "other")
    chat = created(alice, name="two", dataset_ids=[other, corpus.dataset_id])
    body = {"ids": [other]}
    deleted = alice.client.request(
        "DELETE", "/api/v1/datasets", json=body, headers=alice.api_headers
    )
    assert deleted.json() == {"code": 0}
    item = one(alice, chat["id"])
    assert item["dataset_ids"] == [corpus.dataset_id]
    assert [d["id"] for d in item["datasets"]] == [corpus.dataset_id]


def test_list_order_and_pages(alice: Account, runtime: Runtime) -> None:
    ids = [created(alice, name=f"chat {n}")["id"] for n in range(5)]
    with runtime.transaction() as session:  # distinct, known times
        for chat in session.scalars(select(Chat).where(Chat.id.in_(ids))):
            position = ids.index(chat.id)
            chat.create_time = 1_000 + position
            chat.update_time = 2_000 - position
    newest_first = list(reversed(ids))
    assert [c["id"] for c in listed(alice)] == newest_first
    assert [c["id"] for c in listed(alice, desc="False")] == ids
    assert [c["id"] for c in listed(alice, desc="false")] == ids
    assert [c["id"] for c in listed(alice, desc="no")] == newest_first
    assert [c["id"] for c in listed(alice, orderby="update_time")] == ids
    assert [c["id"] for c in listed(alice, page=2, page_size=2)] == newest_first[2:4]
    assert [c["id"] for c in listed(alice, page=3, page_size=2)] == newest_first[4:]
    assert listed(alice, page=4, page_size=2) == []
    assert len(listed(alice, unknown="ignored")) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": -1}, "page"),
        ({"page_size": -1}, "page_size"),
        ({"page": "a"}, "page"),
        ({"orderby": "name"}, "orderby"),
    ],
)
def test_list_refuses_bad_parameters(alice: Account, query: dict[str, Any], field: str) -> None:
    result = listing(alice, **query)
    assert result["code"] == 101 and result["message"].startswith(f"Field: <{field}>"), result


def test_list_filters(alice: Account, bob: Account) -> None:
    first = created(alice, name="First")
    created(alice, name="Second")
    bobs = created(bob, name="Bob's")
    assert [c["id"] for c in listed(alice, id=first["id"])] == [first["id"]]
    assert [c["id"] for c in listed(alice, name="fIRST")] == [first["id"]]
    assert [c["id"] for c in listed(alice, id=first["id"], name="First")] == [first["id"]]
    assert len(listed(alice, id="", name="")) == 2
    missing = {"code": 102, "message": "The chat doesn't exist"}
    assert listing(alice, id=UNKNOWN_ID) == missing
    assert listing(alice, name="Third") == missing
    assert listing(alice, id=first["id"], name="Second") == missing
    assert listing(alice, id=bobs["id"]) == missing
    assert listing(alice, name="Bob's") == missing
    assert delete(alice, {"ids": [first["id"]]}) == {"code": 0}
    assert listing(alice, id=first["id"]) == missing


def test_list_is_empty_for_a_new_tenant(bob: Account) -> None:
    assert listing(bob) == {"code": 0, "data": []}
