"""Chat assistants and their sessions through the official ``ragflow_sdk`` against a real
ragserve process: what the SDK sends, and what it reads back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import ragflow_sdk

from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

OPENER = "Hi! I'm your assistant. What can I do for you?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("chat-sdk") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def rag(server: RunningServer) -> ragflow_sdk.RAGFlow:
    return ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)


@pytest.fixture(scope="module")
def dataset(rag: ragflow_sdk.RAGFlow) -> Any:
    """A dataset with one parsed document (a chat only takes datasets that have chunks)."""
    dataset = rag.create_dataset(name="chat-e2e")
    (document,) = dataset.upload_documents(
        [{"display_name": "owls.md", "blob": b"# Owls\n\nOwls hunt at night and sleep by day."}]
    )
    dataset.async_parse_documents([document.id])
    deadline = time.monotonic() + 120
    while dataset.list_documents(id=document.id)[0].run != "DONE":
        assert time.monotonic() < deadline, "parsing did not finish"
        time.sleep(0.3)
    return dataset


def message_of(call: Any, *args: Any) -> str:
    with pytest.raises(Exception) as caught:  # the SDK raises bare Exception
        call(*args)
    return str(caught.value)


def test_chat_and_session_lifecycle(rag: ragflow_sdk.RAGFlow, dataset: Any) -> None:
    # create_chat with the SDK's defaults; the server has no chat model configured
    chat = rag.create_chat("SDK assistant", dataset_ids=[dataset.id])
    assert len(chat.id) == 32 and chat.name == "SDK assistant"
    assert chat.dataset_ids == [dataset.id]
    assert chat.llm.model_name == "" and chat.llm.temperature == 0.1
    assert chat.prompt.opener == OPENER and "{knowledge}" in chat.prompt.prompt
    # RAGFlow's quirk: the SDK's 0.7 is stored as the vector weight and shown as 1 - it
    assert (round(chat.prompt.keywords_similarity_weight, 6), chat.prompt.top_n) == (0.3, 8)
    assert "Duplicated chat name" in message_of(rag.create_chat, "sdk ASSISTANT")

    # list_chats: all, by name (ignoring case), by id; the datasets come along
    (listed,) = rag.list_chats()
    assert listed.id == chat.id and listed.datasets[0]["id"] == dataset.id
    assert [c.id for c in rag.list_chats(name="sdk assistant")] == [chat.id]
    assert [c.id for c in rag.list_chats(id=chat.id, desc=False)] == [chat.id]

    # update: only the given fields change; the datasets stay
    chat.update({"name": "Renamed", "prompt": {"opener": "Hello!", "top_n": 4}})
    (renamed,) = rag.list_chats(id=chat.id)
    assert (renamed.name, renamed.prompt.opener, renamed.prompt.top_n) == ("Renamed", "Hello!", 4)
    assert renamed.dataset_ids == [dataset.id] and renamed.prompt.prompt == chat.prompt.prompt
    assert message_of(chat.update, {"name": ""}) == "`name` cannot be empty."

    # sessions: created with the opener and chat_id, listed, renamed, deleted
    session = renamed.create_session()
    assert (session.name, session.chat_id) == ("New session", chat.id)
    assert session.messages[0]["content"] == "Hello!"
    assert session.messages[0]["role"] == "assistant"
    time.sleep(0.01)  # distinct creation times, for the order
    other = renamed.create_session(name="Second")
    assert [s.id for s in renamed.list_sessions()] == [other.id, session.id]
    assert [s.id for s in renamed.list_sessions(desc=False)] == [session.id, other.id]
    session.update({"name": "Owl questions"})
    (found,) = renamed.list_sessions(name="Owl questions")
    assert found.id == session.id and found.chat_id == chat.id
    assert message_of(session.update, {"messages": []}) == "`message` can not be change"
    renamed.delete_sessions([session.id])
    assert [s.id for s in renamed.list_sessions()] == [other.id]
    assert "doesn't own the session" in message_of(renamed.delete_sessions, [session.id])
    renamed.delete_sessions()
    assert renamed.list_sessions() == []

    # delete_chats: gone from the list, and unknown afterwards
    rag.delete_chats([chat.id])
    assert rag.list_chats() == []
    assert message_of(rag.list_chats, 1, 30, "create_time", True, chat.id) == (
        "The chat doesn't exist"
    )
    assert message_of(renamed.create_session) == "You do not own the assistant."


def test_chat_refusals_reach_the_sdk(rag: ragflow_sdk.RAGFlow) -> None:
    empty = rag.create_dataset(name="never parsed")
    assert message_of(rag.create_chat, "x", "", [empty.id]) == (
        f"The dataset {empty.id} doesn't own parsed file"
    )
    llm = ragflow_sdk.Chat.LLM(rag, {"model_name": "missing@OpenAI"})
    assert (
        message_of(rag.create_chat, "x", "", [], llm) == "`model_name` missing@OpenAI doesn't exist"
    )
    rag.delete_datasets([empty.id])
    assert rag.list_chats() == []
