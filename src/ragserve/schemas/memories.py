"""Memories and their messages (RAGFlow 0.23's ``/api/v1/memories`` and ``/api/v1/messages``):
requests and answers. Bodies are checked as RAGFlow's handlers check them, in the same order,
each failure a 101 with its fixed text (spec 2.12)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import (
    MAX_PAGE_SIZE,
    ListPageSize,
    Page,
    fixed_message,
    required_arguments,
)

NAME_LIMIT = 128
SIZE_LIMIT = 10 * 1024 * 1024
DEFAULT_SIZE = 5 * 1024 * 1024
MEMORY_TYPES = {"raw": 1, "semantic": 2, "episodic": 4, "procedural": 8}
"""RAGFlow's ``MemoryType`` bits, in the order the API lists them."""
PERMISSIONS = ("me", "team")
FORGETTING_POLICIES = ("FIFO",)


def _python_set(values: set[Any]) -> str:
    """How RAGFlow's message prints a set of names (``{'x', 'y'}``; sorted here)."""
    return "{" + ", ".join(repr(v) for v in sorted(values, key=str)) + "}"


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "Memory name cannot be empty or whitespace.")
    if len(name) > NAME_LIMIT:
        raise fixed_message(
            RetCode.ARGUMENT_ERROR, f"Memory name '{name}' exceeds limit of {NAME_LIMIT}."
        )
    return name


def _types(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "Memory type must be a list.")
    wanted = set(value) if all(isinstance(v, str) for v in value) else {str(v) for v in value}
    unknown = wanted - set(MEMORY_TYPES)
    if unknown:
        raise fixed_message(
            RetCode.ARGUMENT_ERROR, f"Memory type '{_python_set(unknown)}' is not supported."
        )
    return [name for name in MEMORY_TYPES if name in wanted]


def type_bits(names: list[str]) -> int:
    return sum(MEMORY_TYPES[name] for name in set(names))


def type_names(bits: int) -> list[str]:
    return [name for name, bit in MEMORY_TYPES.items() if bits & bit]


class CreateMemory(BaseModel):
    """A new memory; all four keys are required (RAGFlow's ``validate_request``)."""

    name: str = Field(description="1 to 128 characters once stripped.")
    memory_type: list[str] = Field(description="Any of raw, semantic, episodic, procedural.")
    embd_id: str = Field(description="The embedding model of its messages (`name@factory`).")
    llm_id: str = Field(description="The chat model that extracts items (`name@factory`).")

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        required_arguments(data, "name", "memory_type", "embd_id", "llm_id")
        if not isinstance(data, dict):
            return data
        checked = dict(data)
        checked["name"] = _name(data["name"])
        checked["memory_type"] = _types(data["memory_type"])
        for key in ("embd_id", "llm_id"):
            if not isinstance(data[key], str) or not data[key].strip():
                raise fixed_message(RetCode.ARGUMENT_ERROR, f"`{key}` can't be empty.")
        return checked


class UpdateMemory(BaseModel):
    """What to change; keys absent (or empty, for the model ids and types) stay as they are."""

    name: str | None = None
    permissions: str | None = None
    llm_id: str | None = None
    embd_id: str | None = None
    memory_type: list[str] | None = None
    memory_size: int | None = None
    forgetting_policy: str | None = None
    temperature: float | None = None
    avatar: str | None = None
    description: str | None = None
    system_prompt: str | None = None
    user_prompt: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        """Only the keys to apply are kept (``model_fields_set``): empty model ids, types,
        permissions, sizes and policies are ignored, as RAGFlow does; null is a value for
        avatar, description and the prompts."""
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        if "name" in data:
            out["name"] = _name(data["name"])
        if data.get("permissions"):
            if data["permissions"] not in PERMISSIONS:
                raise fixed_message(
                    RetCode.ARGUMENT_ERROR, f"Unknown permission '{data['permissions']}'."
                )
            out["permissions"] = data["permissions"]
        for key in ("llm_id", "embd_id"):
            if data.get(key):
                out[key] = str(data[key])
        if data.get("memory_type"):
            out["memory_type"] = _types(data["memory_type"])
        if data.get("memory_size"):
            size = _number(data["memory_size"], int)
            if not 0 < size <= SIZE_LIMIT:
                raise fixed_message(
                    RetCode.ARGUMENT_ERROR,
                    f"Memory size should be in range (0, {SIZE_LIMIT}] Bytes.",
                )
            out["memory_size"] = size
        if data.get("forgetting_policy"):
            if data["forgetting_policy"] not in FORGETTING_POLICIES:
                raise fixed_message(
                    RetCode.ARGUMENT_ERROR,
                    f"Forgetting policy '{data['forgetting_policy']}' is not supported.",
                )
            out["forgetting_policy"] = data["forgetting_policy"]
        if "temperature" in data:
            temperature = _number(data["temperature"], float)
            if not 0 <= temperature <= 1:
                raise fixed_message(
                    RetCode.ARGUMENT_ERROR, "Temperature should be in range [0, 1]."
                )
            out["temperature"] = temperature
        for key in ("avatar", "description", "system_prompt", "user_prompt"):
            if key in data:
                out[key] = None if data[key] is None else str(data[key])
        return out


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    """``int()``/``float()`` as RAGFlow calls them: a value they refuse is its 100."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise fixed_message(
            RetCode.EXCEPTION_ERROR, f"invalid literal for {kind.__name__}(): {value!r}"
        ) from None


def _id_list(value: Any) -> Any:
    """Repeated keys, or one comma-separated value (RAGFlow's ``getlist`` reading)."""
    if value is None:
        return []
    values = list(value) if isinstance(value, list | tuple) else [value]
    if len(values) == 1 and isinstance(values[0], str) and "," in values[0]:
        values = values[0].split(",")
    return [str(v).strip() for v in values if str(v).strip()]


class ListMemories(BaseModel):
    """Query of ``GET /api/v1/memories``."""

    tenant_id: list[str] = Field(default_factory=list, description="Tenants; default: yours.")
    memory_type: list[str] = Field(
        default_factory=list, description="Memories of any of these types."
    )
    storage_type: str | None = None
    keywords: str = Field("", description="Part of the name.")
    page: Page = 1
    page_size: ListPageSize = 50

    @field_validator("tenant_id", "memory_type", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _id_list(value)


class ListMemoryMessages(BaseModel):
    """Query of ``GET /api/v1/memories/{id}``: its raw turns, each with what was extracted."""

    agent_id: list[str] = Field(default_factory=list)
    keywords: str = ""
    page: Page = 1
    page_size: ListPageSize = 50

    @field_validator("agent_id", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _id_list(value)


class MemoryPublic(BaseModel):
    """A memory as RAGFlow shows it (``memory_type`` by names)."""

    id: str
    name: str
    avatar: str | None
    tenant_id: str
    owner_name: str
    memory_type: list[str]
    storage_type: str
    embd_id: str
    llm_id: str
    permissions: str
    description: str | None
    memory_size: int
    forgetting_policy: str
    temperature: float
    system_prompt: str
    user_prompt: str
    create_time: int
    create_date: str
    update_time: int
    update_date: str


class MemoryPage(BaseModel):
    memory_list: list[MemoryPublic]
    total_count: int


# --- messages ---------------------------------------------------------------------------------


class AddMessage(BaseModel):
    """One turn of an agent, to keep in each of ``memory_id``."""

    memory_id: list[str] = Field(description="The memories (a list; one id is read as [id]).")
    agent_id: str
    session_id: str
    user_input: str
    agent_response: str
    user_id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(
            data, "memory_id", "agent_id", "session_id", "user_input", "agent_response"
        )
        if isinstance(data, dict):
            data = dict(data)
            data["memory_id"] = _id_list(data["memory_id"])
            for key in ("agent_id", "session_id", "user_input", "agent_response", "user_id"):
                if data.get(key) is None:
                    data[key] = ""
                elif not isinstance(data[key], str):
                    data[key] = str(data[key])
        return data


class MessageStatus(BaseModel):
    status: bool

    @model_validator(mode="before")
    @classmethod
    def _boolean(cls, data: Any) -> Any:
        required_arguments(data, "status")
        if isinstance(data, dict) and not isinstance(data["status"], bool):
            raise fixed_message(RetCode.ARGUMENT_ERROR, "Status must be a boolean.")
        return data


class SearchMessages(BaseModel):
    """Query of ``GET /api/v1/messages/search``."""

    memory_id: list[str] = Field(default_factory=list)
    query: str = ""
    similarity_threshold: float = 0.2
    keywords_similarity_weight: float = Field(0.7, ge=0, le=1)
    top_n: int = Field(5, ge=0, le=MAX_PAGE_SIZE)
    agent_id: str = ""
    session_id: str = ""

    @field_validator("memory_id", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _id_list(value)

    @model_validator(mode="after")
    def _not_empty(self) -> SearchMessages:
        empty = [
            name
            for name, value in (("memory_id", self.memory_id), ("query", self.query.strip()))
            if not value
        ]
        if empty:
            raise fixed_message(RetCode.ARGUMENT_ERROR, f"{', '.join(empty)} can't be empty.")
        return self


class RecentMessages(BaseModel):
    """Query of ``GET /api/v1/messages``."""

    memory_id: list[str] = Field(default_factory=list)
    agent_id: str = ""
    session_id: str = ""
    limit: int = Field(10, ge=0, le=MAX_PAGE_SIZE)

    @field_validator("memory_id", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _id_list(value)

    @model_validator(mode="after")
    def _some(self) -> RecentMessages:
        if not self.memory_id:
            raise fixed_message(RetCode.ARGUMENT_ERROR, "memory_ids is required.")
        return self


class MessagePublic(BaseModel):
    """A message: a raw turn (``message_type`` raw, ``source_id`` 0) or an extracted item."""

    message_id: int
    message_type: str
    source_id: int
    memory_id: str
    user_id: str
    agent_id: str
    session_id: str
    content: str
    valid_at: str | None
    invalid_at: str | None
    forget_at: str | None
    status: bool


class ExtractionTask(BaseModel):
    """The raw turn's extraction task: queued, running, done or failed (with why)."""

    status: str
    progress: float
    progress_msg: str


class ListedMessage(MessagePublic):
    agent_name: str
    task: ExtractionTask
    extract: list[MessagePublic]


class MessagePage(BaseModel):
    message_list: list[ListedMessage]
    total_count: int


class MemoryMessages(BaseModel):
    messages: MessagePage
    storage_type: str


class FoundMessage(MessagePublic):
    similarity: float
    term_similarity: float
    vector_similarity: float
