"""Chat models: a blocking completion (question rewriting, keywords, ...) and a streamed one
(answers), whose deltas carry text and, for reasoning models, reasoning.

OpenAI-compatible models (the OpenAI and OpenAI-API-Compatible factories, and any model
LiteLLM would call through its ``openai/`` route) are called with the openai SDK, one client
per endpoint and key, kept; every other provider goes through LiteLLM. Both answer in OpenAI's
shapes, so one class reads them. LiteLLM's stream wrapper measured ~8 ms a reply on a loaded
2-core machine against ~3 ms for the SDK alone, most of ragserve's own share of a chat answer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from ragserve.errors import RagserveError
from ragserve.models.embedding import litellm_model_string
from ragserve.models.provider import ProviderModel, call_options, litellm_module
from ragserve.models.registry import split_model_id


class ChatError(RagserveError):
    """A chat model could not answer; the message is safe to show (no secrets)."""


GENERATION_OPTIONS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "max_tokens")
"""The ``llm_setting`` keys passed on to the provider."""


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed reply: answer text and/or reasoning text."""

    text: str = ""
    reasoning: str = ""


@dataclass(frozen=True)
class ToolCall:
    """A function the model asks to call: the call's id, the function's name and its
    arguments as the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


class ChatModel(Protocol):
    name: str

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        """The assistant's reply to ``messages`` (``{"role", "content"}`` dicts)."""
        ...

    def stream(
        self, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> Iterator[Delta]:
        """The reply as it is generated; ``options`` holds ``GENERATION_OPTIONS``. Raises
        ``ChatError`` (also midway) when the provider fails. Closing the iterator closes the
        connection."""
        ...

    def stream_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
    ) -> Iterator[Delta | ToolCall]:
        """The reply to ``messages`` (which may hold earlier tool calls and ``tool`` results)
        with ``tools`` offered (OpenAI's function-calling format, through LiteLLM): text
        deltas as they come, then each tool call the model asks for, whole. ``options`` holds
        ``GENERATION_OPTIONS`` and may hold ``tool_choice``. Raises ``ChatError``."""
        ...


class LiteLLMChat(ProviderModel):
    def _create(self, **request: Any) -> Any:
        """One chat completion call: the reply, or its stream of chunks."""
        return litellm_module().completion(model=self.model, **request, **self.options())

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        try:
            response = self._create(
                messages=[dict(message) for message in messages],
                max_tokens=max_tokens,
                temperature=0.1,
            )
        except Exception as exc:
            raise self._error(exc) from None
        return _reply_text(response)

    def stream(
        self, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> Iterator[Delta]:
        for piece in self.stream_with_tools(messages, (), options):
            if isinstance(piece, Delta):  # no tools offered: no tool call comes
                yield piece

    def stream_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
    ) -> Iterator[Delta | ToolCall]:
        chosen = {k: options[k] for k in GENERATION_OPTIONS if options.get(k) is not None}
        extra: dict[str, Any] = {"tools": [dict(tool) for tool in tools]} if tools else {}
        if tools and options.get("tool_choice"):
            extra["tool_choice"] = options["tool_choice"]
        calls: dict[int, dict[str, str]] = {}
        try:
            response = self._create(
                messages=[dict(message) for message in messages], stream=True, **extra, **chosen
            )
            try:
                for chunk in response:
                    delta = _delta(chunk)
                    if delta.text or delta.reasoning:
                        yield delta
                    for index, call_id, name, arguments in _tool_call_parts(chunk):
                        slot = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = slot["id"] or call_id
                        slot["name"] = slot["name"] or name
                        slot["arguments"] += arguments
            finally:
                _close(response)
        except ChatError:
            raise
        except Exception as exc:
            raise self._error(exc) from None
        for index in sorted(calls):
            slot = calls[index]
            if slot["name"]:
                yield ToolCall(slot["id"] or f"call_{index}", slot["name"], slot["arguments"])

    def _error(self, exc: Exception) -> ChatError:
        what = f"Chat model {self.name}"
        return ChatError(self.failure(what, exc))


class OpenAIChat(LiteLLMChat):
    """An OpenAI-compatible model, called with the openai SDK (``model`` without LiteLLM's
    ``openai/`` prefix)."""

    def _create(self, **request: Any) -> Any:
        client = _openai_client(self.api_key, self.api_base, self.timeout, self.max_retries)
        return client.chat.completions.create(model=self.model, **request)


@functools.lru_cache(maxsize=64)
def _openai_client(
    api_key: str | None, api_base: str | None, timeout: float, max_retries: int
) -> openai.OpenAI:
    """One client (and its pool of kept-alive connections) per endpoint and key; the SDK's
    clients may be shared between threads."""
    options = call_options(api_key, api_base, timeout, max_retries)
    return openai.OpenAI(
        api_key=options.get("api_key"),
        base_url=options.get("api_base"),
        timeout=timeout,
        max_retries=max_retries,
    )


def _delta(chunk: Any) -> Delta:
    try:
        delta = chunk.choices[0].delta
    except (AttributeError, IndexError, TypeError):
        return Delta()
    text = getattr(delta, "content", None)
    reasoning = getattr(delta, "reasoning_content", None)
    return Delta(
        text=text if isinstance(text, str) else "",
        reasoning=reasoning if isinstance(reasoning, str) else "",
    )


def _tool_call_parts(chunk: Any) -> Iterator[tuple[int, str, str, str]]:
    """``(index, id, name, arguments)`` of each tool-call piece in a streamed chunk."""
    try:
        parts = chunk.choices[0].delta.tool_calls or []
    except (AttributeError, IndexError, TypeError):
        return
    for number, part in enumerate(parts):
        index = getattr(part, "index", None)
        function = getattr(part, "function", None)
        name = getattr(function, "name", None)
        arguments = getattr(function, "arguments", None)
        yield (
            index if isinstance(index, int) else number,
            str(getattr(part, "id", None) or ""),
            name if isinstance(name, str) else "",
            arguments if isinstance(arguments, str) else "",
        )


def _close(response: Any) -> None:
    close = getattr(response, "close", None) or getattr(
        getattr(response, "completion_stream", None), "close", None
    )
    if callable(close):
        close()


def _reply_text(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


def chat_model_for(
    model_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 60,
    max_retries: int = 2,
) -> ChatModel:
    """The chat model named by a RAGFlow id (``gpt-4o-mini@OpenAI``) or a LiteLLM model string
    (``openai/gpt-4o-mini``, ``ollama/llama3``)."""
    name, factory = split_model_id(model_id)
    model = name if factory is None and "/" in name else litellm_model_string(name, factory)
    route, _, openai_name = model.partition("/")
    kind, model = (OpenAIChat, openai_name) if route == "openai" else (LiteLLMChat, model)
    return kind(
        model,
        api_key=api_key,
        api_base=api_base,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )
