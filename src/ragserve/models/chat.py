"""Chat models through LiteLLM: one blocking completion (question rewriting, keywords, ...).

Streaming answers belong to the chat service; this is the small call retrieval needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ragserve.errors import RagserveError
from ragserve.models.embedding import litellm_model_string
from ragserve.models.provider import call_options, litellm_module, provider_error
from ragserve.models.registry import split_model_id


class ChatError(RagserveError):
    """A chat model could not answer; the message is safe to show (no secrets)."""


class ChatModel(Protocol):
    name: str

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        """The assistant's reply to ``messages`` (``{"role", "content"}`` dicts)."""
        ...


class LiteLLMChat:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        api_base: str | None,
        timeout: float = 60,
        max_retries: int = 2,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.name = name or model
        self.api_key = api_key
        self.api_base = api_base
        self.timeout = timeout
        self.max_retries = max_retries

    def __repr__(self) -> str:  # never the key
        return f"LiteLLMChat({self.model!r}, api_base={self.api_base!r})"

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512) -> str:
        options = call_options(self.api_key, self.api_base, self.timeout, self.max_retries)
        try:
            response = litellm_module().completion(
                model=self.model,
                messages=[dict(message) for message in messages],
                max_tokens=max_tokens,
                temperature=0.1,
                **options,
            )
        except Exception as exc:
            what = f"Chat model {self.name}"
            raise ChatError(
                provider_error(what, exc, self.api_key, self.api_base, self.timeout)
            ) from None
        return _reply_text(response)


def _reply_text(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


def chat_model_for(
    model_id: str, *, api_key: str | None = None, api_base: str | None = None
) -> ChatModel:
    """The chat model named by a RAGFlow id (``gpt-4o-mini@OpenAI``) or a LiteLLM model string
    (``openai/gpt-4o-mini``, ``ollama/llama3``)."""
    name, factory = split_model_id(model_id)
    model = name if factory is None and "/" in name else litellm_model_string(name, factory)
    return LiteLLMChat(model, api_key=api_key, api_base=api_base, name=model_id)
