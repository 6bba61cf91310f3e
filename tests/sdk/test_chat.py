"""``Chat`` and ``Session`` against the in-process app, answers from the fake model."""

from __future__ import annotations

import time

import pytest

from ragserve.sdk import (
    APIError,
    Chat,
    DataSet,
    Message,
    MessageStream,
    RAGFlow,
    RAGServeError,
    Session,
)
from sdk.conftest import FACT


@pytest.fixture
def chat(rag: RAGFlow, owls: DataSet) -> Chat:
    return rag.create_chat("owl expert", dataset_ids=[owls.id])


def test_sessions_are_created_listed_renamed_and_deleted(chat: Chat) -> None:
    session = chat.create_session()
    assert isinstance(session, Session) and session.chat_id == chat.id and session.id
    assert session.name == "New session"
    assert session.messages[0]["content"] == chat.prompt.opener
    time.sleep(0.01)  # distinct creation times, for the order
    other = chat.create_session("Second")
    assert [s.id for s in chat.list_sessions()] == [other.id, session.id]
    assert [s.id for s in chat.list_sessions(desc=False)] == [session.id, other.id]
    assert [s.id for s in chat.list_sessions(page=2, page_size=1)] == [session.id]

    session.update({"name": "Owl questions"})
    [renamed] = chat.list_sessions(name="Owl questions")
    assert renamed.id == session.id
    with pytest.raises(APIError, match="`message` can not be change"):
        session.update({"messages": []})

    chat.delete_sessions([session.id])
    assert [s.id for s in chat.list_sessions()] == [other.id]
    chat.delete_sessions()
    assert chat.list_sessions() == []


def test_update_changes_the_chat_on_the_server(rag: RAGFlow, chat: Chat) -> None:
    chat.update({"name": "renamed", "prompt": {"opener": "Hello!"}})
    [stored] = rag.list_chats(id=chat.id)
    assert (stored.name, stored.prompt.opener) == ("renamed", "Hello!")
    with pytest.raises(APIError, match=r"`name` cannot be empty\."):
        chat.update({"name": ""})


def test_ask_answers_one_message(chat: Chat) -> None:
    session = chat.create_session()
    answers = session.ask("How do owls hunt?")
    assert isinstance(answers, MessageStream)
    [message] = list(answers)
    assert isinstance(message, Message) and message.role == "assistant"
    assert message.content.startswith(FACT) and "[ID:0]" in message.content
    assert message.reference is not None and message.reference[0]["document_name"] == "owls.md"
    assert message.id and message.prompt  # ragflow-sdk leaves these None


def test_ask_streams_pieces_of_the_answer(chat: Chat) -> None:
    session = chat.create_session()
    with session.ask("And how do owls hunt at night?", stream=True) as answers:
        pieces = list(answers)
    assert "".join(m.content for m in pieces) == FACT
    assert [m.reference for m in pieces if m.reference]  # the last one quotes the chunks
    [stored] = chat.list_sessions(id=session.id)
    assert [m["role"] for m in stored.messages] == ["assistant", "user", "assistant"]


def test_ask_sends_nothing_until_iterated(chat: Chat) -> None:
    session = chat.create_session()
    session.ask("Never sent", stream=True).close()
    [stored] = chat.list_sessions(id=session.id)
    assert len(stored.messages) == 1


def test_ask_raises_the_servers_refusal(chat: Chat) -> None:
    session = chat.create_session()
    session.id = "no-such-session"  # as if deleted meanwhile
    for stream in (False, True):
        with pytest.raises(APIError) as caught:
            next(session.ask("How do owls hunt?", stream=stream))
        assert caught.value.message and caught.value.code


@pytest.mark.parametrize("llm_key", ["midway"])
def test_a_model_failing_midway_raises_after_the_pieces_before(chat: Chat) -> None:
    """ragflow-sdk yields the error event as an answer (``**ERROR**: ...``); here it raises."""
    answers = chat.create_session().ask("Tell me about owls, please, in many words", stream=True)
    with pytest.raises(APIError) as caught:
        for _ in answers:
            pass
    assert caught.value.code == 500


def test_a_session_without_a_chat_cannot_ask(rag: RAGFlow) -> None:
    session = Session(rag, {"id": "s1"})
    with pytest.raises(RAGServeError, match="no chat assistant and no agent"):
        next(session.ask("hello"))
