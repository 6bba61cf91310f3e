"""``ChatModel.stream_with_tools`` against the fake model server, on both routes (the openai SDK
for OpenAI-compatible models, LiteLLM for the other providers, here its ``hosted_vllm`` one): a
streamed tool call comes whole (its arguments joined from pieces), then the answer from its
result; a provider's failures read the same on both."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import free_port
from ragserve.models.chat import ChatError, Delta, LiteLLMChat, OpenAIChat, ToolCall, chat_model_for

TOOLS = [{"type": "function", "function": {"name": "search", "description": "Search.",
          "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                         "required": ["query"]}}}]  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(slow_seconds=3) as server:
        yield server


ROUTES = {"openai/fake-chat": OpenAIChat, "hosted_vllm/fake-chat": LiteLLMChat}


@pytest.fixture(params=list(ROUTES))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_openai_compatible_factories_take_the_sdk_route_and_the_others_litellm() -> None:
    assert type(chat_model_for("gpt-4o-mini@OpenAI")) is OpenAIChat
    assert type(chat_model_for("qwen@OpenAI-API-Compatible", api_base="http://x/v1")) is OpenAIChat
    assert type(chat_model_for("llama3@Ollama", api_base="http://x")) is LiteLLMChat
    for name, kind in ROUTES.items():
        assert type(chat_model_for(name)) is kind
    assert chat_model_for("gpt-4o-mini@OpenAI").model == "gpt-4o-mini"


def test_a_tool_call_then_the_answer(fake: FakeOpenAI, model: str) -> None:
    chat = chat_model_for(model, api_key="sk-x", api_base=fake.base_url)
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


def test_tool_choice_none_answers_at_once(fake: FakeOpenAI, model: str) -> None:
    chat = chat_model_for(model, api_key="sk-x", api_base=fake.base_url)
    items = list(chat.stream_with_tools([{"role": "user", "content": "hi"}], TOOLS,
                                        {"tool_choice": "none"}))  # fmt: skip
    assert items and not any(isinstance(item, ToolCall) for item in items)
    assert fake.requests[-1].body["tool_choice"] == "none"


FAILURES = {
    "bad": "the provider rejected the API key",
    "limited": "rate limit or quota exceeded",
    "slow": "did not answer within 1 s",
}


@pytest.mark.parametrize("key", list(FAILURES))
def test_a_provider_failure_is_a_readable_chat_error(
    fake: FakeOpenAI, model: str, key: str
) -> None:
    chat = chat_model_for(model, api_key=key, api_base=fake.base_url, max_retries=0, timeout=1)
    with pytest.raises(ChatError) as raised:
        list(chat.stream_with_tools([{"role": "user", "content": "hi"}], TOOLS, {}))
    assert raised.value.message.startswith(f"Chat model {model}")
    assert FAILURES[key] in raised.value.message
    assert key not in raised.value.message.replace(FAILURES[key], "")


def test_an_unreachable_provider_is_named(model: str) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    chat = chat_model_for(model, api_key="sk-x", api_base=base, max_retries=0, timeout=5)
    with pytest.raises(ChatError, match=f"cannot reach the provider at {base}"):
        chat.complete([{"role": "user", "content": "hi"}])


def test_a_reply_is_the_same_on_both_routes(fake: FakeOpenAI) -> None:
    question = [{"role": "user", "content": "what do owls eat"}]
    replies = {
        name: chat_model_for(name, api_key="sk-x", api_base=fake.base_url).complete(question)
        for name in ROUTES
    }
    streamed = {
        name: "".join(
            delta.text
            for delta in chat_model_for(name, api_key="sk-x", api_base=fake.base_url).stream(
                question, {}
            )
        )
        for name in ROUTES
    }
    assert len(set(replies.values())) == 1 and len(set(streamed.values())) == 1
    assert next(iter(replies.values())) == next(iter(streamed.values())) != ""
