"""Chat models through LiteLLM: a blocking completion (question rewriting, keywords, ...) and
a streamed one (answers), whose deltas carry text and, for reasoning models, reasoning."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragserve.errors import RagserveError
from ragserve.models.embedding import litellm_model_string
from ragserve.models.provider import ProviderModel, litellm_module
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


@dataclass(frozen=True)
class ToolReply:
    """A reply to a request offering tools: text, or calls to make (or both)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


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

    def complete_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
    ) -> ToolReply:
        """One reply to ``messages`` (which may hold earlier tool calls and ``tool`` results)
        with ``tools`` offered (OpenAI's function-calling format, through LiteLLM).
        ``options`` holds ``GENERATION_OPTIONS`` and may hold ``tool_choice``."""
        ...


class LiteLLMChat(ProviderModel):
    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        options = self.options()
        try:
            response = litellm_module().completion(
                model=self.model,
                messages=[dict(message) for message in messages],
                max_tokens=max_tokens,
                temperature=0.1,
                **options,
            )
        except Exception as exc:
            raise self._error(exc) from None
        return _reply_text(response)

    def stream(
        self, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> Iterator[Delta]:
        chosen = {k: options[k] for k in GENERATION_OPTIONS if options.get(k) is not None}
        call = self.options()
        try:
            response = litellm_module().completion(
                model=self.model,
                messages=[dict(message) for message in messages],
                stream=True,
                **chosen,
                **call,
            )
            try:
                for chunk in response:
                    delta = _delta(chunk)
                    if delta.text or delta.reasoning:
                        yield delta
            finally:
                close = getattr(response, "close", None) or getattr(
                    getattr(response, "completion_stream", None), "close", None
                )
                if callable(close):
                    close()
        except ChatError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def complete_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
    ) -> ToolReply:
        chosen = {k: options[k] for k in GENERATION_OPTIONS if options.get(k) is not None}
        extra: dict[str, Any] = {"tools": [dict(tool) for tool in tools]} if tools else {}
        if tools and options.get("tool_choice"):
            extra["tool_choice"] = options["tool_choice"]
        try:
            response = litellm_module().completion(
                model=self.model,
                messages=[dict(message) for message in messages],
                **extra,
                **chosen,
                **self.options(),
            )
        except Exception as exc:
            raise self._error(exc) from None
        return _tool_reply(response)

    def _error(self, exc: Exception) -> ChatError:
        what = f"Chat model {self.name}"
        return ChatError(self.failure(what, exc))


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


def _tool_reply(response: Any) -> ToolReply:
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return ToolReply()
    content = getattr(message, "content", None)
    calls = []
    for number, call in enumerate(getattr(message, "tool_calls", None) or []):
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        if not isinstance(name, str) or not name:
            continue
        arguments = getattr(function, "arguments", None)
        calls.append(
            ToolCall(
                id=str(getattr(call, "id", None) or f"call_{number}"),
                name=name,
                arguments=arguments if isinstance(arguments, str) else "{}",
            )
        )
    return ToolReply(content if isinstance(content, str) else "", tuple(calls))


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
    return LiteLLMChat(
        model,
        api_key=api_key,
        api_base=api_base,
        timeout=timeout,
        max_retries=max_retries,
        name=model_id,
    )
