"""Agents, their sessions and their completions over HTTP (spec ragflow-api 2.9, 4.3, 4.4).

Bodies are read as RAGFlow's handlers read them (not strictly): unknown keys are ignored, and
the checks RAGFlow makes answer its own texts and codes (``fixed_message``). The DSL itself is
only checked to be a JSON object here; it is validated when a session starts or a run begins
(``ragserve.agent.dsl``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import Page, PageSize, fixed_message
from ragserve.schemas.openai import openai_invalid

MAX_TITLE = 255


def _dsl_object(value: Any) -> Any:
    """The DSL as an object: given as one, or as JSON text of one (RAGFlow takes both)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise fixed_message(RetCode.ARGUMENT_ERROR, "`dsl` is not valid JSON.") from None
    if not isinstance(value, dict):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`dsl` must be a JSON object.")
    return value


def _title(value: Any) -> Any:
    if not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`title` must be a string.")
    value = value.strip()
    if not value:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "No title in request.", data=False)
    if len(value) > MAX_TITLE:
        raise fixed_message(
            RetCode.ARGUMENT_ERROR, f"`title` is longer than {MAX_TITLE} characters."
        )
    return value


def _optional_text(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "Text fields must be strings.")
    return value


DslObject = Annotated[dict[str, Any], BeforeValidator(_dsl_object)]
Title = Annotated[str, BeforeValidator(_title)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Permission = Literal["me", "team"]


class CreateAgent(BaseModel):
    """Body of ``POST /api/v1/agents``."""

    model_config = ConfigDict(extra="ignore")

    title: Title = Field(description="Unique among the tenant's agents (surrounding spaces go).")
    dsl: DslObject = Field(description="The canvas DSL: an object, or JSON text of one.")
    description: OptionalText = None
    avatar: OptionalText = None
    permission: Permission = "me"
    canvas_type: OptionalText = None

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("dsl") in (None, "", {}):
                raise fixed_message(RetCode.ARGUMENT_ERROR, "No DSL data in request.", data=False)
            if data.get("title") is None:
                raise fixed_message(RetCode.ARGUMENT_ERROR, "No title in request.", data=False)
        return data


class UpdateAgent(BaseModel):
    """Body of ``PUT /api/v1/agents/{id}``: null values are left as they are."""

    model_config = ConfigDict(extra="ignore")

    title: Title | None = None
    dsl: DslObject | None = None
    description: OptionalText = None
    avatar: OptionalText = None
    permission: Permission | None = None
    canvas_type: OptionalText = None


def _flag(default: bool) -> Any:
    """A query flag: false only for "false" (RAGFlow's reading), ``default`` when absent."""

    def read(value: Any) -> Any:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() != "false"

    return BeforeValidator(read)


class ListAgents(BaseModel):
    """Query of ``GET /api/v1/agents``."""

    page: Page = 1
    page_size: PageSize = 30
    orderby: Literal["create_time", "update_time"] = "update_time"
    desc: Annotated[bool, _flag(False)] = Field(False, description="Newest first; default false.")
    id: str | None = None
    title: str | None = None


class AgentPublic(BaseModel):
    """An agent as RAGFlow lists it (``user_id`` is the owning tenant)."""

    id: str
    avatar: str | None
    user_id: str
    title: str
    permission: str
    description: str | None
    canvas_type: str | None
    canvas_category: str
    dsl: dict[str, Any]
    create_time: int
    create_date: str
    update_time: int
    update_date: str


# --- sessions --------------------------------------------------------------------------------


class CreateAgentSessionQuery(BaseModel):
    user_id: str | None = Field(None, max_length=255, description="Your own id for the end user.")


class SessionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class AgentSessionCreated(BaseModel):
    """A new session: note ``message`` (singular) here, as in RAGFlow."""

    id: str
    agent_id: str
    user_id: str
    message: list[SessionMessage]
    source: str = "agent"
    dsl: dict[str, Any]


class ListAgentSessions(BaseModel):
    """Query of ``GET /api/v1/agents/{id}/sessions``."""

    page: Page = 1
    page_size: PageSize = 30
    orderby: Literal["create_time", "update_time"] = "update_time"
    desc: Annotated[bool, _flag(True)] = True
    id: str | None = None
    user_id: str | None = None
    dsl: Annotated[bool, _flag(True)] = Field(True, description="false leaves the DSL out.")


class AgentSessionPublic(BaseModel):
    id: str
    agent_id: str
    user_id: str
    messages: list[SessionMessage]
    source: str
    dsl: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)
    tokens: int
    duration: float
    round: int
    thumb_up: int
    errors: str | None
    create_time: int
    create_date: str
    update_time: int
    update_date: str


# --- completions -----------------------------------------------------------------------------


class AgentCompletionRequest(BaseModel):
    """Body of ``POST /api/v1/agents/{id}/completions``."""

    model_config = ConfigDict(extra="allow")

    question: str | None = Field(None, description="The question (`sys.query`).")
    query: str | None = Field(None, description="Another name of `question`.")
    stream: bool = Field(True, description="Server-sent events (spec 4.3); one JSON otherwise.")
    session_id: str | None = Field(
        None, description="The session to continue; without it a new session is made."
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the Begin form (or of the UserFillUp form the session waits "
        'at): `{"name": {"value": …, "type": …}}`.',
    )
    files: list[Any] = Field(default_factory=list, description="`sys.files`.")
    user_id: str | None = Field(None, max_length=255, description="`sys.user_id`.")
    return_trace: bool = Field(False, description="Add the trace of every component run.")

    @model_validator(mode="after")
    def _inputs_have_values(self) -> AgentCompletionRequest:
        for name, given in self.inputs.items():
            if not isinstance(given, dict) or "value" not in given:
                raise fixed_message(
                    RetCode.ARGUMENT_ERROR,
                    f"`inputs.{name}` must be an object with a `value`.",
                )
        return self

    @property
    def text(self) -> str:
        return self.question if self.question is not None else (self.query or "")


class AgentEvent(BaseModel):
    """One canvas event as the API sends it (spec 4.3)."""

    event: str = Field(
        description="`message`, `message_end` or `node_finished` in streams; the last event "
        "(normally `workflow_finished`, or `user_inputs` when the agent waits for a form) "
        "without streaming."
    )
    message_id: str
    created_at: int
    task_id: str
    data: dict[str, Any]
    session_id: str


# --- OpenAI-compatible -----------------------------------------------------------------------


class AgentChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[Any] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return " ".join(
            str(part.get("text") or "") for part in parts if isinstance(part, dict)
        ).strip()


class AgentChatCompletionRequest(BaseModel):
    """Body of ``POST /api/v1/agents_openai/{id}/chat/completions``. Other keys (``inputs``,
    ``files``…) are passed to the run as in the native endpoint."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="Any name; the answer names the agent.")
    messages: list[AgentChatMessage] = Field(
        description="Only the last user message is read: the session keeps the conversation."
    )
    stream: bool = False
    session_id: str | None = Field(None, description="Also read from `id` or `metadata.id`.")
    id: str | None = None
    metadata: dict[str, Any] | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    files: list[Any] = Field(default_factory=list)
    user_id: str | None = Field(None, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        if isinstance(data, dict):
            missing = [name for name in ("model", "messages") if name not in data]
            if missing:
                message = "required argument are missing: " + "".join(f"{m}; " for m in missing)
                raise openai_invalid(message, "missing_required_parameter")
            if not data.get("messages"):
                raise openai_invalid("You must provide at least one message.")
        return data

    @property
    def question(self) -> str | None:
        """The last user message, or None when there is none."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return None

    @property
    def session(self) -> str | None:
        from_metadata = (self.metadata or {}).get("id")
        return (
            self.session_id
            or self.id
            or (from_metadata if isinstance(from_metadata, str) else None)
        )


class AgentUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AgentAnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    reference: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)


class AgentChoice(BaseModel):
    message: AgentAnswerMessage
    logprobs: None = None
    finish_reason: str = "stop"
    index: int = 0


class AgentChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    usage: AgentUsage
    choices: list[AgentChoice]


class AgentChunkDelta(BaseModel):
    role: Literal["assistant"] | None = Field(None, exclude_if=lambda value: value is None)
    content: str | None = None
    reference: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)


class AgentChunkChoice(BaseModel):
    delta: AgentChunkDelta
    finish_reason: str | None = None
    index: int = 0


class AgentChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[AgentChunkChoice]
    usage: AgentUsage | None = Field(None, exclude_if=lambda value: value is None)


class CanvasUpload(BaseModel):
    """A file uploaded to an agent (`/v1/canvas/upload/{agent_id}`)."""

    id: str
    name: str
    size: int
    extension: str
    mime_type: str
    created_by: str
    created_at: float
