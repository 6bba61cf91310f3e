"""``RAGFlow``'s own methods against the in-process app: datasets, chats, retrieval, errors."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import ragflow_sdk
from fastapi.testclient import TestClient

from conftest import Account
from ragserve import sdk
from ragserve.sdk import (
    APIError,
    AuthenticationError,
    Chat,
    DataSet,
    ErrorCode,
    RAGFlow,
    RAGServeError,
)
from sdk.conftest import BASE_URL, over


def test_datasets_are_created_listed_found_and_deleted(rag: RAGFlow) -> None:
    first = rag.create_dataset(name="first", description="The first one")
    assert isinstance(first, DataSet) and first.rag is rag
    assert (first.name, first.description, first.permission) == ("first", "The first one", "me")
    assert first.parser_config is not None and first.parser_config.chunk_token_num == 512
    time.sleep(0.01)  # distinct creation times, for the order
    config = DataSet.ParserConfig(rag, {"chunk_token_num": 128})
    second = rag.create_dataset("second", chunk_method="qa", parser_config=config)
    assert second.chunk_method == "qa"
    assert second.parser_config is not None and second.parser_config.chunk_token_num == 128

    assert [d.id for d in rag.list_datasets()] == [second.id, first.id]
    assert [d.id for d in rag.list_datasets(desc=False)] == [first.id, second.id]
    assert [d.id for d in rag.list_datasets(page=2, page_size=1)] == [first.id]
    assert [d.id for d in rag.list_datasets(id=first.id)] == [first.id]
    assert rag.get_dataset("SECOND").id == second.id

    rag.delete_datasets([first.id])
    assert [d.id for d in rag.list_datasets()] == [second.id]
    rag.delete_datasets()
    assert rag.list_datasets() == []


def test_a_refusal_is_an_api_error_with_the_servers_code_and_message(rag: RAGFlow) -> None:
    with pytest.raises(APIError) as caught:
        rag.list_datasets(orderby="name")
    assert caught.value.code == ErrorCode.ARGUMENT_ERROR
    assert str(caught.value) == caught.value.message
    assert caught.value.message.startswith("Field: <orderby> - Message: <Input should be")

    rag.create_dataset("taken")
    with pytest.raises(Exception, match="already exists") as duplicate:  # as with ragflow-sdk
        rag.create_dataset("taken").update({"name": "taken"})
    assert isinstance(duplicate.value, APIError)


def test_a_wrong_key_is_an_authentication_error(client: TestClient) -> None:
    rag = RAGFlow("ragflow-not-a-key", BASE_URL, http_client=over(client))
    with pytest.raises(AuthenticationError) as caught:
        rag.list_datasets()
    assert caught.value.code == ErrorCode.AUTHENTICATION_ERROR
    assert caught.value.code == 109
    assert caught.value.message == "Authentication error: API key is invalid!"
    assert isinstance(caught.value, RAGServeError)


def test_objects_keep_the_attributes_ragflow_sdk_keeps(rag: RAGFlow, owls: DataSet) -> None:
    """DataSet, Document and Chunk drop keys they do not declare; Chat and Session keep all."""
    assert set(vars(owls)) == set(vars(ragflow_sdk.DataSet(None, {})))
    assert "create_time" not in owls.to_json()
    [document] = owls.list_documents()
    assert set(vars(document)) == set(vars(ragflow_sdk.modules.document.Document(None, {})))
    chat = rag.create_chat("keeper", dataset_ids=[owls.id])
    assert chat.dataset_ids == [owls.id] and isinstance(chat.create_time, int)
    assert isinstance(chat.llm, Chat.LLM) and isinstance(chat.prompt, Chat.Prompt)
    assert chat.to_json()["llm"]["model_name"] == chat.llm.model_name
    assert "rag" not in chat.to_json()
    assert repr(owls) == f"DataSet(id={owls.id!r}, name='owls')"
    assert str(owls) == str(owls.to_json())


def test_create_chat_sends_ragflow_sdks_defaults(rag: RAGFlow, owls: DataSet) -> None:
    theirs = ragflow_sdk.Chat.Prompt(None, {}).to_json()
    assert sdk.Chat.Prompt(rag, {}).to_json() == {k: v for k, v in theirs.items() if k != "rag"}
    theirs = ragflow_sdk.Chat.LLM(None, {}).to_json()
    assert sdk.Chat.LLM(rag, {}).to_json() == {k: v for k, v in theirs.items() if k != "rag"}

    chat = rag.create_chat("defaults", dataset_ids=[owls.id])
    assert chat.prompt.opener == "Hi! I'm your assistant. What can I do for you?"
    assert (chat.prompt.top_n, chat.prompt.similarity_threshold) == (8, 0.2)
    assert chat.llm.max_tokens == 512


def test_chats_are_listed_and_deleted(rag: RAGFlow, owls: DataSet) -> None:
    llm = Chat.LLM(rag, {"temperature": 0.5})
    prompt = Chat.Prompt(rag, {"opener": "Ask me about owls.", "top_n": 3})
    chat = rag.create_chat("owl chat", dataset_ids=[owls.id], llm=llm, prompt=prompt)
    assert (chat.llm.temperature, chat.prompt.opener, chat.prompt.top_n) == (
        0.5, "Ask me about owls.", 3
    )  # fmt: skip
    [listed] = rag.list_chats(name="OWL CHAT")
    assert listed.id == chat.id and listed.datasets[0]["id"] == owls.id
    assert rag.list_chats(id=chat.id, desc=False)[0].name == "owl chat"
    rag.delete_chats([chat.id])
    assert rag.list_chats() == []
    with pytest.raises(APIError, match="The chat doesn't exist"):
        rag.list_chats(id=chat.id)


def test_retrieve_returns_chunks_best_first(rag: RAGFlow, owls: DataSet) -> None:
    [chunk] = rag.retrieve([owls.id], question="How do owls hunt?")
    assert chunk.dataset_id == owls.id and "hunt at night" in chunk.content
    assert chunk.document_name == "owls.md" and 0 < chunk.similarity <= 1
    assert (
        rag.retrieve([owls.id], question="quantum chromodynamics", similarity_threshold=0.99) == []
    )
    with pytest.raises(APIError, match=r"You don't own the dataset nope\."):
        rag.retrieve(["nope"], question="owls")


def test_a_given_http_client_is_left_open(client: TestClient, alice: Account) -> None:
    with RAGFlow(alice.api_key, BASE_URL, http_client=over(client)) as rag:
        rag.list_datasets()
    assert not client.is_closed
    own = RAGFlow(alice.api_key, BASE_URL)
    own.close()
    assert own._http.client.is_closed


def test_raw_requests_answer_the_http_response(rag: RAGFlow) -> None:
    response = rag.get("/datasets", params={"page": 1, "desc": False, "name": None})
    assert (response.json()["code"], response.json()["data"]) == (0, [])
    assert response.request.url.params.multi_items() == [("page", "1"), ("desc", "False")]
    assert rag.post("/datasets", json={"name": "raw"}).json()["data"]["name"] == "raw"
    assert rag.api_url == f"{BASE_URL}/api/v1"
    assert rag.authorization_header == {"Authorization": f"Bearer {rag.user_key}"}


def test_the_sdk_imports_nothing_of_the_server() -> None:
    """ragserve.sdk must work where only httpx is installed."""
    code = (
        "import sys, ragserve.sdk\n"
        "others = {m.split('.')[0] for m in sys.modules} & "
        "{'fastapi', 'starlette', 'pydantic', 'sqlalchemy', 'numpy', 'ragflow_sdk', 'requests'}\n"
        "ours = [m for m in sys.modules if m.startswith('ragserve.') and "
        "not m.startswith('ragserve.sdk')]\n"
        "print(sorted(others), ours)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] []"
