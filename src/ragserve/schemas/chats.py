"""Chat assistants and their sessions (spec 2.5, 2.6): requests and what RAGFlow answers.

Bodies are validated strictly (no coercion) and unknown top-level keys are ignored, as RAGFlow
ignores keys its tables lack. Which keys were *given* matters (an update changes only those), so
services read ``model_fields_set``. Type errors answer code 101 with ``Field: …`` lines; the
checks RAGFlow itself makes (names, datasets, models) are the services' job, in RAGFlow's order.

``llm`` and ``prompt`` of a chat are shown as stored, with the keys a client added: they are
typed dicts, which document the known keys and keep the others.
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
    with_config,
)
from typing_extensions import TypedDict

from ragserve.domain import Validity
from ragserve.schemas.common import ListPage, ListPageSize
from ragserve.schemas.datasets import DatasetPublic

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
    (``keyword``, ``reasoning``, ``cross_languages``, ``toc_enhance``, ``tavily_api_key``…) are
    kept as given and act when the chat answers (docs/chat.md)."""

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
    top_n: Annotated[int, Field(ge=0, le=MAX_TOP)] = 6
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
    """Body of ``POST /chats`` and ``PUT /chats/{id}``. An update changes only the keys given
    and merges ``llm`` and ``prompt`` into the stored ones."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: ChatName | None = Field(
        None, description="Required on create; unique among the tenant's chats, ignoring case."
    )
    avatar: str | None = ""
    description: str | None = "A helpful Assistant"
    dataset_ids: list[str] | None = Field(
        None,
        description="Datasets to answer from: the caller's, parsed, all with one embedding model.",
    )
    llm: LlmFields | None = None
    prompt: PromptFields | None = None
    language: Annotated[str, StringConstraints(max_length=32)] = "English"
    prompt_type: Literal["simple", "advanced"] = "simple"
    meta_data_filter: dict[str, Any] | None = Field(
        None, description="A metadata filter applied to every retrieval (spec 7.4)."
    )
    show_quotation: Annotated[bool, BeforeValidator(_true_or_false)] = Field(
        True, description='Whether answers cite their sources (also "1"/"0").'
    )
    tenant_id: Any = Field(None, description="Refused: a chat belongs to the caller.")


class DeleteIds(BaseModel):
    """Body of the batch deletes: ``ids`` absent, null or empty means all."""

    model_config = ConfigDict(extra="ignore", strict=True)

    ids: list[str] | None = Field(
        None, description="The ids to delete; absent, null or empty: all of them."
    )


def _false_only_when_false(value: Any) -> Any:
    """RAGFlow's ``desc``: false only for the strings "false"/"False"."""
    if isinstance(value, str):
        return value not in ("false", "False")
    return value


def _empty_is_none(value: Any) -> Any:
    """An empty query value (``?id=``) means the filter is not set, as in RAGFlow."""
    return None if value == "" else value


OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]


class _ListQuery(BaseModel):
    """What the chat and session lists share; unknown keys are ignored, as in RAGFlow."""

    model_config = ConfigDict(extra="ignore")

    page: ListPage = 1
    page_size: ListPageSize = 30
    desc: Annotated[bool, BeforeValidator(_false_only_when_false)] = Field(
        True, description='Newest first; false only for "false" or "False".'
    )
    id: OptionalText = Field(None, description="Only this id; empty: no filter.")


class ListChats(_ListQuery):
    """Query of ``GET /chats``."""

    orderby: Literal["create_time", "update_time"] = "create_time"
    name: OptionalText = Field(
        None, description="Only this name (ignoring case); empty: no filter."
    )


class ListSessions(_ListQuery):
    """Query of ``GET /chats/{id}/sessions``."""

    orderby: Literal["create_time", "update_time", "name"] = "create_time"
    name: OptionalText = Field(None, description="Only this name (exactly); empty: no filter.")
    user_id: OptionalText = Field(None, description="Only this user's; empty: no filter.")


class CreateSession(BaseModel):
    """Body of ``POST /chats/{id}/sessions``; the session opens with the chat's opener."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: SessionName | None = Field("New session", description="Must not be empty.")
    user_id: UserId | None = Field("", description="Any id of the caller's own users.")


class UpdateSession(BaseModel):
    """Only ``name`` and ``user_id`` can change; the conversation itself cannot."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: SessionName | None = None
    user_id: UserId | None = None
    message: Any = Field(None, description="Refused: the conversation cannot be changed.")
    messages: Any = Field(None, description="Refused: the conversation cannot be changed.")
    reference: Any = Field(None, description="Refused: the references cannot be changed.")


# --- what RAGFlow answers ------------------------------------------------------------------------

RFC1123 = "RFC 1123, GMT."
EPOCH_MS = "Milliseconds since the epoch."


@with_config(ConfigDict(extra="allow"))
class ChatLlm(TypedDict, total=False):
    """``llm``: the chat model and its generation settings, with any other key the client gave.
    (Keys in the order a chat stores them.)"""

    temperature: float
    top_p: float
    frequency_penalty: float
    presence_penalty: float
    max_tokens: Annotated[int, Field(description="Most tokens an answer may take.")]
    model_name: Annotated[
        str, Field(description="`name@factory`; empty: the chat has no model and quotes passages.")
    ]


@with_config(ConfigDict(extra="allow"))
class PromptVariable(TypedDict, total=False):
    key: str
    optional: Annotated[bool, Field(description="A required one must appear in `prompt`.")]


@with_config(ConfigDict(extra="allow"))
class ChatPrompt(TypedDict, total=False):
    """``prompt``: prompt and retrieval settings, with any other key the client gave
    (``keyword``, ``reasoning``, ``cross_languages``…). (Keys in the order a chat stores them.)"""

    prompt: Annotated[str, Field(description="The system prompt; `{knowledge}` takes passages.")]
    opener: Annotated[str | None, Field(description="The first message of every session.")]
    variables: list[PromptVariable]
    empty_response: Annotated[
        str | None, Field(description="The answer when nothing is retrieved; empty: ask the model.")
    ]
    show_quote: Annotated[bool, Field(description="Answers cite passages as `[ID:n]`.")]
    tts: bool
    refine_multiturn: Annotated[
        bool, Field(description="Rewrite follow-up questions to stand alone before searching.")
    ]
    similarity_threshold: float
    keywords_similarity_weight: Annotated[
        float, Field(description="Weight of keyword similarity; vectors weigh 1 minus it.")
    ]
    top_n: Annotated[int, Field(description="Passages given to the model.")]
    top_k: Annotated[int, Field(description="Vector candidates taken; text matches join.")]
    rerank_model: Annotated[str, Field(description="`name@factory`, or empty for none.")]


class ChatPublic(BaseModel):
    """A chat assistant as RAGFlow shows it."""

    id: str
    tenant_id: str
    name: str
    description: str | None
    avatar: str | None
    language: str
    llm: ChatLlm
    prompt_type: str = Field(description="`simple` or `advanced`.")
    prompt: ChatPrompt
    top_k: int
    meta_data_filter: dict[str, Any] = Field(
        description="The assistant's own metadata filter (spec 7.4); `{}` for none."
    )
    do_refer: str = Field(description='"1": answers cite their sources, "0": they do not.')
    status: Validity = Field(description='"1": valid.')
    dataset_ids: list[str]
    create_time: int = Field(description=EPOCH_MS)
    create_date: str | None = Field(description=RFC1123)
    update_time: int = Field(description=EPOCH_MS)
    update_date: str | None = Field(description=RFC1123)


class ChatListed(ChatPublic):
    """A chat in a listing: its datasets that still exist come along."""

    datasets: list[DatasetPublic]


class SessionChunk(BaseModel):
    """A passage an answer was based on."""

    id: str | None = None
    content: str | None = None
    document_id: str | None = None
    document_name: str | None = None
    dataset_id: str | None = None
    image_id: str | None = None
    positions: list[list[int]] | None = Field(
        None, description="PDF boxes: `[page, left, right, top, bottom]`."
    )


class SessionMessage(BaseModel):
    role: str = Field(description="`user` or `assistant`.")
    content: str
    id: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="A question and its answer share the id.",
    )
    created_at: float | None = Field(
        None, exclude_if=lambda v: v is None, description="Seconds since the epoch."
    )
    reference: list[SessionChunk] | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Assistant messages only: the passages the answer was based on.",
    )


class SessionPublic(BaseModel):
    """A session with its messages; the first is the chat's opener."""

    id: str
    chat_id: str
    name: str
    user_id: str
    messages: list[SessionMessage]
    create_time: int = Field(description=EPOCH_MS)
    create_date: str | None = Field(description=RFC1123)
    update_time: int = Field(description=EPOCH_MS)
    update_date: str | None = Field(description=RFC1123)
