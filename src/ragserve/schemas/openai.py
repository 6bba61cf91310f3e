"""OpenAI's chat completion API, as an assistant answers it (spec 2.8, stream 4.2).

The request takes what the OpenAI SDK and LiteLLM send: unknown keys (``temperature``, ``n``,
``tools``, ``stream_options``…) are accepted and ignored, message contents may be text parts,
and RAGFlow's options come at the top level (where the SDK flattens its ``extra_body``) or
nested in a JSON ``extra_body``. Failures answer HTTP statuses with OpenAI's error body.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ragserve.errors import RetCode
from ragserve.schemas.common import FIXED_MESSAGE
from ragserve.schemas.completions import MetadataConditionBody, ReferenceChunk

RAGFLOW_OPTIONS = ("reference", "metadata_condition")
"""The keys RAGFlow reads from ``extra_body``."""
CONVERSATION_ROLES = ("user", "assistant")


def openai_invalid(message: str, code: str | None = None) -> PydanticCustomError:
    """A fixed text of RAGFlow's for an OpenAI-compatible route, answered as HTTP 400 with
    OpenAI's error ``code``."""
    context = {"message": message, "code": int(RetCode.ARGUMENT_ERROR), "openai_code": code}
    return PydanticCustomError(FIXED_MESSAGE, "{message}", context)


def _is_none(value: Any) -> bool:
    return value is None


class ContentPart(BaseModel):
    """A part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(
        description="Only `user` and `assistant` messages are read: the assistant's own system "
        "prompt replaces the caller's."
    )
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The content as text: a string, or the text parts joined by spaces."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return " ".join(part.text or "" for part in parts).strip()


class ExtraBody(BaseModel):
    """RAGFlow's options nested in the body, as ``extra_body``."""

    model_config = ConfigDict(extra="allow")

    reference: bool | None = None
    metadata_condition: MetadataConditionBody = None


class ChatCompletionRequest(BaseModel):
    """Body of ``POST /chats_openai/{chat_id}/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(
        description="Any name: it is echoed in the answer; the chat's model answers."
    )
    messages: list[ChatMessage] = Field(
        description="The conversation; the last `user`/`assistant` message must be the user's. "
        "No session is stored."
    )
    stream: bool | None = Field(False, description="Server-sent chunks (spec 4.2).")
    reference: bool | None = Field(
        False,
        description="Cite passages (`[ID:n]`) and return them in `message.reference` (a stream: "
        "in the last chunk's `delta.reference`, with `delta.final_content`).",
    )
    metadata_condition: MetadataConditionBody = None
    extra_body: ExtraBody | None = Field(
        None,
        description="`reference` and `metadata_condition` nested, as RAGFlow documents them; "
        "they win over the top-level ones.",
    )

    @model_validator(mode="before")
    @classmethod
    def _required_and_flattened(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        missing = [name for name in ("model", "messages") if not data.get(name)]
        if missing:
            message = "required argument are missing: " + "".join(f"{m}; " for m in missing)
            raise openai_invalid(message, "missing_required_parameter")
        extra = data.get("extra_body")
        if extra is None:
            return data
        if not isinstance(extra, dict):
            raise openai_invalid("extra_body must be an object.")
        return {**data, **{key: extra[key] for key in RAGFLOW_OPTIONS if key in extra}}

    @field_validator("messages", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise openai_invalid("You have to provide messages.")
        return value

    @field_validator("messages")
    @classmethod
    def _ends_with_the_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        conversation = [m for m in messages if m.role in CONVERSATION_ROLES]
        if not conversation or conversation[-1].role != "user":
            raise openai_invalid("The last content of this conversation is not from user.")
        return messages

    def conversation(self) -> list[dict[str, str]]:
        """The user and assistant messages as text, from the first user message on."""
        turns = [
            {"role": m.role, "content": m.text()}
            for m in self.messages
            if m.role in CONVERSATION_ROLES
        ]
        while turns[0]["role"] != "user":
            turns.pop(0)
        return turns


# --- answers -------------------------------------------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    reference: list[ReferenceChunk] | None = Field(
        None, exclude_if=_is_none, description="Only when `reference` was asked for."
    )


class Choice(BaseModel):
    message: AnswerMessage
    logprobs: None = None
    finish_reason: str = "stop"
    index: int = 0


class ChatCompletion(BaseModel):
    """The whole answer (``stream: false``)."""

    id: str = Field(description="`chatcmpl-<chat id>`: the same for every answer of the chat.")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Seconds since the epoch.")
    model: str = Field(description="The request's `model`.")
    usage: Usage
    choices: list[Choice]


class ChunkDelta(BaseModel):
    role: Literal["assistant"] = "assistant"
    function_call: None = None
    tool_calls: None = None
    content: str | None = Field(description="New answer text; null in reasoning and last chunks.")
    reasoning_content: str | None = Field(description="New reasoning text of the model.")
    reference: list[ReferenceChunk] | None = Field(
        None, exclude_if=_is_none, description="The last chunk, when `reference` was asked for."
    )
    final_content: str | None = Field(
        None,
        exclude_if=_is_none,
        description="The last chunk, when `reference` was asked for: the answer with citations.",
    )


class ChunkChoice(BaseModel):
    delta: ChunkDelta
    finish_reason: str | None = Field(None, description='"stop" in the last chunk.')
    index: int = 0
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer: ``data:`` and this JSON; after the last
    chunk (with ``usage``) comes ``data:[DONE]``."""

    id: str
    choices: list[ChunkChoice]
    created: int = Field(description="Seconds since the epoch, when the stream started.")
    model: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    system_fingerprint: str = ""
    usage: Usage | None = Field(None, description="The last chunk only.")


class ModelCard(BaseModel):
    id: str = Field(description="The chat's id.")
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragserve"


class ModelList(BaseModel):
    """The assistant as the one model of an OpenAI model list."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
