"""``ChatModel.stream_with_tools`` through LiteLLM against the fake model server: a streamed
tool call comes whole (its arguments joined from pieces), then the answer from its result."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers.fake_openai import FakeOpenAI
from ragserve.models.chat import ChatError, Delta, ToolCall, chat_model_for

TOOLS = [{"type": "function", "function": {"name": "search", "description": "Search.",
          "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                         "required": ["query"]}}}]  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_a_tool_call_then_the_answer(fake: FakeOpenAI) -> None:
    chat = chat_model_for("openai/fake-chat", api_key="sk-x", api_base=fake.base_url)
    question = [{"role": "user", "content": "owls at night"}]
    [call] = list(chat.stream_with_tools(question, TOOLS, {"temperature": 0.2}))
    assert isinstance(call, ToolCall) and call.name == "search"
    assert json.loads(call.arguments) == {"query": "owls at night"}
    assert fake.requests[-1].body["temperature"] == 0.2
    assert "tool_choice" not in fake.requests[-1].body

    follow = [
        *question,
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function",
         "function": {"name": call.name, "arguments": call.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "ID: 7\nContent: Owls hunt."},
    ]  # fmt: skip
    answer = list(chat.stream_with_tools(follow, TOOLS, {}))
    assert all(isinstance(item, Delta) for item in answer)
    text = "".join(item.text for item in answer if isinstance(item, Delta))
    assert text == "According to search, here it is [ID:7]."


def test_tool_choice_none_answers_at_once(fake: FakeOpenAI) -> None:
    chat = chat_model_for("openai/fake-chat", api_key="sk-x", api_base=fake.base_url)
    items = list(chat.stream_with_tools([{"role": "user", "content": "hi"}], TOOLS,
                                        {"tool_choice": "none"}))  # fmt: skip
    assert items and not any(isinstance(item, ToolCall) for item in items)
    assert fake.requests[-1].body["tool_choice"] == "none"


def test_a_refused_key_is_a_chat_error(fake: FakeOpenAI) -> None:
    chat = chat_model_for("openai/fake-chat", api_key="bad", api_base=fake.base_url,
                          max_retries=0)  # fmt: skip
    with pytest.raises(ChatError, match="fake-chat"):
        list(chat.stream_with_tools([{"role": "user", "content": "hi"}], TOOLS, {}))
