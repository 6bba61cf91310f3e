"""OpenAI-compatible chat: ``usage`` counts as RAGFlow does (cl100k tokens of the last user
message as ``prompt_tokens``, of the answer as ``completion_tokens``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_completions import make_chat, openai_chat
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.runtime import Runtime
from ragserve.settings import Settings
from ragserve.tokenizer import count_tokens

QUESTION = "What is the tallest mountain on Earth, and how was it measured?"


def _reply(messages: list[dict[str, Any]]) -> str:
    return f"An answer about {str(messages[-1]['content'])[:20]}, told at some length."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=_reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key", "openai/fake-chat")


MESSAGES = [
    {"role": "system", "content": "A long system message that is dropped. " * 20},
    {"role": "user", "content": "An earlier question that is history now."},
    {"role": "assistant", "content": "An earlier answer that is history too."},
    {"role": "user", "content": QUESTION},
]


def _chat(runtime: Runtime, tenant_id: str) -> str:
    """An assistant without datasets: it just chats with the model."""
    return make_chat(
        runtime, tenant_id, [], prompt_config={"system": "Be brief.", "parameters": []}
    )


def test_non_stream_counts_the_last_user_message(alice: Account, runtime: Runtime) -> None:
    chat_id = _chat(runtime, alice.id)
    body = {"model": "m", "stream": False, "messages": MESSAGES}
    data = openai_chat(alice, chat_id, body).json()
    answer = data["choices"][0]["message"]["content"]
    assert data["usage"] == {
        "prompt_tokens": count_tokens(QUESTION),
        "completion_tokens": count_tokens(answer),
        "total_tokens": count_tokens(QUESTION) + count_tokens(answer),
    }


def test_stream_counts_the_last_user_message(alice: Account, runtime: Runtime) -> None:
    chat_id = _chat(runtime, alice.id)
    body = {"model": "m", "stream": True, "messages": MESSAGES}
    blocks = [b for b in openai_chat(alice, chat_id, body).text.split("\n\n") if b]
    chunks = [json.loads(b[len("data:") :]) for b in blocks[:-1]]
    usage = chunks[-1]["usage"]
    answer = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks[:-1])
    assert usage["prompt_tokens"] == count_tokens(QUESTION) > 0
    assert usage["completion_tokens"] >= count_tokens(answer) > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
