"""Saved search apps (RAGFlow's ``/v1/search/*`` web routes): requests and answers.

Names are checked as RAGFlow checks them, each failure a 102 with its fixed text; a search
config is a JSON object merged key by key into the saved one (``services/search_apps.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import MAX_PAGE, MAX_PAGE_SIZE, fixed_message, required_arguments

NAME_LIMIT = 255

# RAGFlow's ``Search.search_config`` default: what a new app starts with and what every saved
# config is read over (the keys of the spec's B.5 and D.4; retrieval defaults of §5).
DEFAULT_SEARCH_CONFIG: dict[str, Any] = {
    "kb_ids": [],
    "doc_ids": [],
    "similarity_threshold": 0.2,
    "vector_similarity_weight": 0.3,
    "use_kg": False,
    "rerank_id": "",
    "top_k": 1024,
    "summary": False,
    "chat_id": "",
    "llm_setting": {},
    "cross_languages": [],
    "highlight": False,
    "keyword": False,
    "web_search": False,
    "related_search": False,
    "query_mindmap": False,
}

# Keys an update may not set (RAGFlow's ``not_allowed_parameters`` on ``/v1/search/update``).
NOT_ALLOWED_ON_UPDATE = (
    "id",
    "created_by",
    "create_time",
    "update_time",
    "create_date",
    "update_date",
)


def search_name(value: Any) -> str:
    """A search app's name, stripped; RAGFlow's texts for a non-string, blank or long name."""
    if not isinstance(value, str):
        raise fixed_message(RetCode.DATA_ERROR, "Search name must be string.")
    if not value.strip():
        raise fixed_message(RetCode.DATA_ERROR, "Search name can't be empty.")
    if len(value.encode("utf-8")) > NAME_LIMIT:
        raise fixed_message(
            RetCode.DATA_ERROR,
            f"Search name length is {len(value)} which is large than {NAME_LIMIT}.",
        )
    return value.strip()


class CreateSearchApp(BaseModel):
    """Body of ``POST /v1/search/create``."""

    model_config = ConfigDict(extra="ignore")

    name: Any = Field(description="Required; at most 255 UTF-8 bytes; made unique in the tenant.")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "name")
        return data

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str:
        return search_name(value)

    @field_validator("description", mode="plain")
    @classmethod
    def _description(cls, value: Any) -> str:
        return value if isinstance(value, str) else ""


class UpdateSearchApp(BaseModel):
    """Body of ``POST /v1/search/update``: the whole name, and the config keys to change."""

    model_config = ConfigDict(extra="ignore")

    search_id: str
    name: Any = Field(description="Required; at most 255 UTF-8 bytes; unique in the tenant.")
    tenant_id: str = Field(description="The app's tenant (the caller's own or a team's).")
    search_config: Any = Field(description="A JSON object merged into the saved config.")
    description: str | None = None
    avatar: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "search_id", "name", "search_config", "tenant_id")
        if isinstance(data, dict):
            for key in NOT_ALLOWED_ON_UPDATE:
                if key in data:
                    raise fixed_message(RetCode.ARGUMENT_ERROR, f"Parameter {key} isn't allowed")
        return data

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str:
        return search_name(value)

    @field_validator("search_config", mode="plain")
    @classmethod
    def _config(cls, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fixed_message(RetCode.DATA_ERROR, "search_config must be a JSON object")
        for key in ("kb_ids", "doc_ids"):
            ids = value.get(key, [])
            if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
                raise fixed_message(RetCode.DATA_ERROR, f"`{key}` should be a list of ids")
        return value


class SearchAppId(BaseModel):
    """Body of ``POST /v1/search/rm``."""

    model_config = ConfigDict(extra="ignore")

    search_id: str

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "search_id")
        return data


class DetailQuery(BaseModel):
    """Query of ``GET /v1/search/detail``."""

    search_id: str


class ListQuery(BaseModel):
    """Query of ``POST /v1/search/list``; ``page`` or ``page_size`` 0 lists everything."""

    keywords: str = Field("", description="Only apps whose name contains this (any case).")
    page: int = Field(0, ge=0, le=MAX_PAGE)
    page_size: int = Field(0, ge=0, le=MAX_PAGE_SIZE)
    orderby: str = Field("create_time", description="`create_time`, `update_time` or `name`.")
    desc: str = Field("true", description="Anything but `false` sorts newest first.")


class ListBody(BaseModel):
    """Body of ``POST /v1/search/list``."""

    model_config = ConfigDict(extra="ignore")

    owner_ids: list[str] = Field(
        default_factory=list, description="Only these tenants' apps (default: all visible)."
    )


class CreatedSearchApp(BaseModel):
    search_id: str


class SearchAppPublic(BaseModel):
    """A saved search app as ``/v1/search/update`` answers it."""

    id: str
    tenant_id: str
    name: str
    description: str
    avatar: str | None
    created_by: str
    search_config: dict[str, Any]
    status: str = Field("1", description='Always "1" (a removed app is gone).')
    create_time: int
    create_date: str
    update_time: int
    update_date: str


class SearchAppDetail(BaseModel):
    """``/v1/search/detail``: the app with its tenant owner's nickname and avatar."""

    id: str
    tenant_id: str
    name: str
    description: str
    avatar: str | None
    created_by: str
    search_config: dict[str, Any]
    update_time: int
    nickname: str
    tenant_avatar: str | None


class SearchAppListed(BaseModel):
    """One app of ``/v1/search/list`` (no config)."""

    id: str
    tenant_id: str
    name: str
    description: str
    avatar: str | None
    created_by: str
    status: str = "1"
    create_time: int
    update_time: int
    nickname: str
    tenant_avatar: str | None


class SearchAppPage(BaseModel):
    search_apps: list[SearchAppListed]
    total: int
