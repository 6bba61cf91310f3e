"""Answers from a real server process through the real clients: ragflow-sdk ``session.ask``,
LiteLLM's ``ragflow/chat/...`` provider and the OpenAI SDK, streaming and not. The model behind
the assistant is the fake OpenAI-compatible server of ``tests/helpers``, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import litellm
import openai
import pytest
import ragflow_sdk

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."


def reply(messages: list[dict[str, Any]]) -> str:
    question = str(messages[-1].get("content", ""))
    return FACT if "owl" in question.lower() else f"Fake answer to: {question}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("chat-clients") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def chat(server: RunningServer) -> Any:
    rag = ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)
    dataset = rag.create_dataset(name="owls")
    (document,) = dataset.upload_documents(
        [{"display_name": "owls.md", "blob": f"# Owls\n\n{FACT} They rest by day.".encode()}]
    )
    dataset.async_parse_documents([document.id])
    deadline = time.monotonic() + 120
    while dataset.list_documents(id=document.id)[0].run != "DONE":
        assert time.monotonic() < deadline, "parsing did not finish"
        time.sleep(0.3)
    return rag.create_chat("owl expert", dataset_ids=[dataset.id])


def test_ragflow_sdk_session_ask(chat: Any) -> None:
    session = chat.create_session()
    [message] = list(session.ask("How do owls hunt?", stream=False))
    assert message.content.startswith(FACT) and "[ID:0]" in message.content
    assert message.reference[0]["document_name"] == "owls.md"

    streamed = list(session.ask("And how do owls hunt at night?", stream=True))
    assert "".join(m.content for m in streamed) == FACT
    assert any(getattr(m, "reference", None) for m in streamed)
    [stored] = chat.list_sessions(id=session.id)
    assert [m["role"] for m in stored.messages] == ["assistant", *["user", "assistant"] * 2]


def test_litellm_ragflow_provider(server: RunningServer, chat: Any) -> None:
    options = {
        "model": f"ragflow/chat/{chat.id}/fake-chat",
        "api_base": server.base_url,
        "api_key": server.api_key,
        "messages": [{"role": "user", "content": "How do owls hunt?"}],
    }
    response = litellm.completion(**options)
    assert response.choices[0].message.content == FACT
    assert response.usage.total_tokens > response.usage.completion_tokens > 0

    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in litellm.completion(**options, stream=True)
        if chunk.choices
    ]
    assert "".join(pieces) == FACT


def test_openai_sdk(server: RunningServer, chat: Any) -> None:
    base_url = f"{server.base_url}/api/v1/chats_openai/{chat.id}"
    messages: Any = [{"role": "user", "content": "How do owls hunt?"}]
    with openai.OpenAI(api_key=server.api_key, base_url=base_url) as client:
        completion = client.chat.completions.create(model="m", messages=messages, stream=False)
        assert completion.choices[0].message.content == FACT
        cited = client.chat.completions.create(
            model="m", messages=messages, stream=False, extra_body={"reference": True}
        )
        assert "[ID:0]" in (cited.choices[0].message.content or "")
        assert cited.choices[0].message.reference[0]["document_name"] == "owls.md"  # type: ignore[attr-defined]

        with client.chat.completions.create(model="m", messages=messages, stream=True) as stream:
            text = "".join(
                chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
            )
        assert text == FACT
        assert [model.id for model in client.models.list()] == [chat.id]

    with (
        openai.OpenAI(api_key="ragflow-nope", base_url=base_url) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.chat.completions.create(model="m", messages=messages, stream=False)
