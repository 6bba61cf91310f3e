"""Requests on chat assistants and their sessions (spec 2.5, 2.6).

Bodies are validated strictly (no coercion) and unknown top-level keys are ignored, as RAGFlow
ignores keys its tables lack. Which keys were *given* matters (an update changes only those), so
services read ``model_fields_set``. Type errors answer code 101 with ``Field: …`` lines; the
checks RAGFlow itself makes (names, datasets, models) are the services' job, in RAGFlow's order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ragserve.schemas.common import Page, PageSize

MAX_NAME = 255
MAX_TOP = 10_000

Fraction = Annotated[float, Field(ge=0, le=1)]
ChatName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NAME)]
SessionName = Annotated[str, StringConstraints(max_length=MAX_NAME)]
UserId = Annotated[str, StringConstraints(max_length=MAX_NAME)]

# RAGFlow's internal ``prompt_config`` names, accepted in ``prompt`` as aliases of the
# documented ones (RAGFlow stores whatever it is given); the documented name wins.
PROMPT_ALIASES = {
    "system": "prompt",
    "prologue": "opener",
    "parameters": "variables",
    "quote": "show_quote",
    "rerank_id": "rerank_model",
}


class Variable(BaseModel):
    """A ``{key}`` placeholder of the system prompt; a non-optional one must appear in it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
    optional: bool = False


class LlmFields(BaseModel):
    """``llm``: the model and its generation settings. Other keys are kept in ``llm_setting``."""

    model_config = ConfigDict(extra="allow", strict=True)

    model_name: str | None = None
    temperature: float = 0.1
    top_p: float = 0.3
    presence_penalty: float = 0.4
    frequency_penalty: float = 0.7
    max_tokens: Annotated[int, Field(ge=1)] = 512

    def settings(self) -> dict[str, Any]:
        """The given generation settings (and unknown keys), without ``model_name``."""
        given = {key: getattr(self, key) for key in self.model_fields_set if key != "model_name"}
        return {**(self.model_extra or {}), **given}


class PromptFields(BaseModel):
    """``prompt``: the prompt settings and the retrieval settings of the assistant. Other keys
    (``keyword``, ``reasoning``, ``cross_languages``, ``tavily_api_key``…) are kept as given."""

    model_config = ConfigDict(extra="allow", strict=True)

    prompt: str | None = None
    opener: str | None = None
    variables: list[Variable] = []
    show_quote: bool = True
    empty_response: str | None = None
    tts: bool = False
    refine_multiturn: bool = True
    similarity_threshold: Fraction = 0.2
    keywords_similarity_weight: Fraction = 0.7
    vector_similarity_weight: Fraction = 0.3
    top_n: Annotated[int, Field(ge=1, le=MAX_TOP)] = 6
    top_k: Annotated[int, Field(ge=1, le=MAX_TOP)] = 1024
    rerank_model: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _documented_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        renamed = dict(data)
        for internal, documented in PROMPT_ALIASES.items():
            if internal in renamed:
                value = renamed.pop(internal)
                renamed.setdefault(documented, value)
        return renamed


def _true_or_false(value: Any) -> Any:
    """``show_quotation``: a boolean, or RAGFlow's stored form "1"/"0"."""
    return {"1": True, "0": False}.get(value, value) if isinstance(value, str) else value


class ChatBody(BaseModel):
    """Body of ``POST /chats`` and ``PUT /chats/{id}``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: ChatName | None = None
    avatar: str | None = ""
    description: str | None = "A helpful Assistant"
    dataset_ids: list[str] | None = None
    llm: LlmFields | None = None
    prompt: PromptFields | None = None
    language: Annotated[str, StringConstraints(max_length=32)] = "English"
    prompt_type: Literal["simple", "advanced"] = "simple"
    meta_data_filter: dict[str, Any] | None = None
    show_quotation: Annotated[bool, BeforeValidator(_true_or_false)] = True
    tenant_id: Any = None


class DeleteIds(BaseModel):
    """Body of the batch deletes: ``ids`` absent, null or empty means all."""

    model_config = ConfigDict(extra="ignore", strict=True)

    ids: list[str] | None = None


def _false_only_when_false(value: Any) -> Any:
    """RAGFlow's ``desc``: false only for the strings "false"/"False"."""
    if isinstance(value, str):
        return value not in ("false", "False")
    return value


def _empty_is_none(value: Any) -> Any:
    """An empty query value (``?id=``) means the filter is not set, as in RAGFlow."""
    return None if value == "" else value


OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]


class ListChats(BaseModel):
    """Query of ``GET /chats``; unknown keys are ignored, as in RAGFlow."""

    model_config = ConfigDict(extra="ignore")

    page: Page = 1
    page_size: PageSize = 30
    orderby: Literal["create_time", "update_time"] = "create_time"
    desc: Annotated[bool, BeforeValidator(_false_only_when_false)] = True
    id: OptionalText = None
    name: OptionalText = None


class ListSessions(ListChats):
    """Query of ``GET /chats/{id}/sessions``."""

    user_id: OptionalText = None


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    name: SessionName | None = "New session"
    user_id: UserId | None = ""


class UpdateSession(BaseModel):
    """Only ``name`` and ``user_id`` can change; the conversation itself cannot."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: SessionName | None = None
    user_id: UserId | None = None
    message: Any = None
    messages: Any = None
    reference: Any = None
