"""Answers of chat assistants (spec 2.7, 2.13; streams 4.1, 4.5): requests, answers, events.

These bodies are read leniently, as RAGFlow's handlers read them (spec 0.5): unknown keys are
kept (a completion's become prompt variables), and the few checks RAGFlow makes answer its own
fixed texts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from ragserve.errors import RetCode
from ragserve.schemas.chats import SessionName, UserId
from ragserve.schemas.common import fixed_message


def _is_none(value: Any) -> bool:
    return value is None


# --- references ----------------------------------------------------------------------------------


class ReferenceChunk(TypedDict):
    """A passage an answer was based on (``[ID:n]`` in the answer is ``chunks[n]``)."""

    id: str
    content: str
    document_id: str
    document_name: str
    dataset_id: str
    image_id: str
    positions: Annotated[
        list[list[int]], Field(description="PDF boxes: `[page, left, right, top, bottom]`.")
    ]
    url: Annotated[
        str | None, Field(description="A web page's address (web search); null for a chunk.")
    ]
    similarity: float
    vector_similarity: float
    term_similarity: float
    doc_type: str


class DocumentCount(TypedDict):
    doc_name: str
    doc_id: str
    count: Annotated[int, Field(description="Passages of the document among `chunks`.")]


class ChatReference(TypedDict, total=False):
    """What an answer was based on; ``{}`` when nothing was retrieved or quoting is off."""

    total: int
    chunks: list[ReferenceChunk]
    doc_aggs: Annotated[
        list[DocumentCount],
        Field(description="The documents cited by the answer (all of them when none is)."),
    ]


# --- requests ------------------------------------------------------------------------------------


def _off_only_when_false(value: Any) -> bool:
    """RAGFlow's switches: off only for false, "false", "False" and 0."""
    return value not in (False, "false", "False", 0)


Switch = Annotated[bool, BeforeValidator(_off_only_when_false)]


def _condition_object(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise fixed_message(RetCode.DATA_ERROR, "metadata_condition must be an object.")
    return value or None


MetadataConditionBody = Annotated[
    dict[str, Any] | None,
    BeforeValidator(_condition_object),
    Field(
        description="Only documents whose metadata match (spec 7.2): "
        '`{"logic": "and"|"or", "conditions": [{"name", "comparison_operator", "value"}]}`.'
    ),
]


class CompletionRequest(BaseModel):
    """Body of ``POST /chats/{chat_id}/completions``. Any other key fills the ``{key}``
    placeholder of the chat's system prompt."""

    model_config = ConfigDict(extra="allow")

    question: str | None = Field(None, description="Ignored when no `session_id` is given.")
    stream: Switch = Field(
        True, description='Server-sent events; one JSON answer for false, "false" or 0.'
    )
    session_id: str | None = Field(
        None,
        description="The session to ask in. Without it a session is opened and only its "
        "opener is answered: ask again with the `session_id` returned.",
    )
    name: SessionName | None = Field(
        None, description="Name of the session opened without `session_id`."
    )
    user_id: UserId | None = Field(None, description="`user_id` of that session.")
    quote: Switch = Field(True, description="Cite passages as `[ID:n]`.")
    doc_ids: str | list[str] | None = Field(
        None, description="Search only these documents: a list or a comma-separated string."
    )
    kb_ids: list[str] | None = Field(
        None, description="Datasets searched in this call besides the chat's own."
    )
    metadata_condition: MetadataConditionBody = None
    reasoning: Any = Field(
        None, description="Deep research for this question (true/false); absent: as the chat says."
    )

    @property
    def document_ids(self) -> tuple[str, ...]:
        if isinstance(self.doc_ids, str):
            return tuple(d.strip() for d in self.doc_ids.split(",") if d.strip())
        return tuple(d for d in self.doc_ids or [] if d)

    @property
    def variables(self) -> dict[str, str]:
        """The values of the prompt's ``{key}`` placeholders: the unknown keys, as text."""
        return {
            key: str(value) for key, value in (self.model_extra or {}).items() if value is not None
        }


def _question(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fixed_message(RetCode.DATA_ERROR, "`question` is required.")
    return value


def _dataset_ids(value: Any) -> list[str]:
    if not value:
        raise fixed_message(RetCode.DATA_ERROR, "`dataset_ids` is required.")
    if not isinstance(value, list):
        raise fixed_message(RetCode.DATA_ERROR, "`dataset_ids` should be a list.")
    return [str(item) for item in value]


def _text_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


Question = Annotated[str, BeforeValidator(_question), Field(description="Must not be blank.")]


class _Required(BaseModel):
    """Absent required keys answer RAGFlow's fixed texts, not pydantic's "Field required"."""

    @model_validator(mode="before")
    @classmethod
    def _absent_is_none(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        required = [name for name, field in cls.model_fields.items() if field.is_required()]
        return {**dict.fromkeys(required), **data}


class AskRequest(_Required):
    """Body of ``POST /sessions/ask``."""

    question: Question
    dataset_ids: Annotated[
        list[str],
        BeforeValidator(_dataset_ids),
        Field(description="Datasets of the caller, parsed, all with one embedding model."),
    ]


class RelatedQuestionsRequest(_Required):
    """Body of ``POST /sessions/related_questions``."""

    question: Question
    industry: Annotated[str, BeforeValidator(_text_or_empty)] = Field(
        "", description="The field the questions are about, if any."
    )


# --- answers and events --------------------------------------------------------------------------


class CompletionAnswer(BaseModel):
    """An answer (``stream: false``), or one event of a streamed answer (spec 4.1)."""

    answer: str = Field(
        description="The whole answer with `[ID:n]` citations; in a stream, the new text only "
        "(the final event's is empty)."
    )
    reference: ChatReference = Field(
        description='In a stream: `{"chunks": []}` until the final event.'
    )
    audio_binary: str | None = None
    prompt: str | None = Field(
        None, exclude_if=_is_none, description="The system prompt sent, with the query and timing."
    )
    created_at: float | None = Field(
        None, exclude_if=_is_none, description="Seconds since the epoch."
    )
    final: bool | None = Field(
        None, exclude_if=_is_none, description="Streams: the event with the reference."
    )
    start_to_think: bool | None = Field(
        None, exclude_if=_is_none, description="Streams: the model's reasoning follows."
    )
    end_to_think: bool | None = Field(
        None, exclude_if=_is_none, description="Streams: the reasoning ended."
    )
    id: str | None = Field(description="The message id; null for a session's opener.")
    session_id: str


class AskAnswer(BaseModel):
    """One event of ``/sessions/ask`` (spec 4.5)."""

    answer: str = Field(description="The new text; empty in the final event.")
    reference: ChatReference
    final: bool


class FailedAnswer(BaseModel):
    answer: str = Field(description="`**ERROR**: ` and the message.")
    reference: list[Any] = []


class StreamEvent(BaseModel):
    """One server-sent event of the chat streams: ``data:`` and this JSON, then a blank line.
    The last event's ``data`` is ``true``."""

    code: int = Field(0, description="0, or 500 for a failed answer.")
    message: str | None = Field(None, exclude_if=_is_none)
    data: CompletionAnswer | AskAnswer | FailedAnswer | bool

    @classmethod
    def failure(cls, message: str) -> StreamEvent:
        """RAGFlow's event for a failed answer."""
        return cls(code=500, message=message, data=FailedAnswer(answer=f"**ERROR**: {message}"))
