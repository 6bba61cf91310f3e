"""Requests on datasets (spec 2.1): strict bodies, lax query strings, RAGFlow's messages."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ragserve.domain import Permission
from ragserve.schemas.common import UUID1, Page, PageSize, StrictModel
from ragserve.schemas.parser_config import DatasetChunkMethod, ParserConfig

ALLOWED_AVATAR_TYPES = ["image/jpeg", "image/png"]
MAX_TEXT = 65535


def _avatar(value: str | None) -> str | None:
    if value is None:
        return None
    if "," not in value:
        raise PydanticCustomError(
            "format_invalid", "Missing MIME prefix. Expected format: data:<mime>;base64,<data>"
        )
    prefix = value.split(",", 1)[0]
    if not prefix.startswith("data:"):
        raise PydanticCustomError(
            "format_invalid", "Invalid MIME prefix format. Must start with 'data:'"
        )
    mime = prefix[len("data:") :].split(";", 1)[0]
    if mime not in ALLOWED_AVATAR_TYPES:
        raise PydanticCustomError(
            "format_invalid", f"Unsupported MIME type. Allowed: {ALLOWED_AVATAR_TYPES}"
        )
    return value


def _embedding_model(value: Any) -> Any:
    """``model@provider``, checked after stripping as RAGFlow does: `""` and `" "` lack the
    ``@``, `` @x`` has an empty side. Errors show the original input; the length limit applies
    to the stripped text afterwards. Only null means "the tenant's default" (create) or "keep"
    (update)."""
    if not isinstance(value, str):
        return value  # strict validation reports the wrong type
    stripped = value.strip()
    if "@" not in stripped:
        raise PydanticCustomError(
            "format_invalid",
            "Embedding model identifier must follow <model_name>@<provider> format",
        )
    name, provider = stripped.rsplit("@", 1)
    if not name or not provider:
        raise PydanticCustomError(
            "format_invalid", "Both model_name and provider must be non-empty strings"
        )
    # RAGFlow's third message, for a whitespace-only side, cannot occur once the ends are
    # stripped: each side then begins or ends with a visible character.
    return stripped


def _pipeline_id(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) != 32:
        raise PydanticCustomError("format_invalid", "pipeline_id must be 32 hex characters")
    try:
        int(value, 16)
    except ValueError:
        raise PydanticCustomError("format_invalid", "pipeline_id must be hexadecimal") from None
    return value.lower()


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Avatar = Annotated[str | None, Field(max_length=MAX_TEXT), AfterValidator(_avatar)]
Description = Annotated[str | None, Field(max_length=MAX_TEXT)]
EmbeddingModel = Annotated[
    str | None,
    StringConstraints(max_length=255),
    BeforeValidator(_embedding_model),
]
PipelineId = Annotated[str | None, AfterValidator(_pipeline_id)]


class _DatasetFields(StrictModel):
    name: Name | None = None
    avatar: Avatar = None
    description: Description = None
    embedding_model: EmbeddingModel = None
    # lax: in strict mode pydantic takes only enum members, and a JSON body brings strings
    permission: Permission = Field(Permission.ME, strict=False)
    chunk_method: DatasetChunkMethod = "naive"
    parse_type: Annotated[int | None, Field(ge=0, le=64)] = None
    pipeline_id: PipelineId = None
    parser_config: ParserConfig | None = None

    @field_validator("parser_config", mode="before")
    @classmethod
    def _empty_config_is_none(cls, value: Any) -> Any:
        if value == {}:
            return None
        if value is not None:
            size = len(json.dumps(value, ensure_ascii=False))
            if size > MAX_TEXT:
                raise PydanticCustomError(
                    "string_too_long",
                    "Parser config exceeds size limit (max 65,535 characters). "
                    f"Current size: {size:,}",
                )
        return value

    @model_validator(mode="after")
    def _chunk_method_or_pipeline(self) -> _DatasetFields:
        given = self.model_fields_set
        pipeline_fields = [field for field in ("parse_type", "pipeline_id") if field in given]
        if "chunk_method" in given:
            if pipeline_fields:
                raise PydanticCustomError(
                    "dependency_error",
                    "parser_id provided → disallowed fields present: " + ", ".join(pipeline_fields),
                )
        elif len(pipeline_fields) == 1:
            missing = "pipeline_id" if pipeline_fields == ["parse_type"] else "parse_type"
            raise PydanticCustomError(
                "dependency_error", f"parser_id omitted → required fields missing: {missing}"
            )
        return self


class CreateDataset(_DatasetFields):
    name: Name


class UpdateDataset(_DatasetFields):
    pagerank: Annotated[int, Field(ge=0, le=100)] = 0

    @field_validator("name", mode="before")
    @classmethod
    def _name_not_null(cls, value: Any) -> Any:
        """``"name": null`` is a wrong type, as in RAGFlow (leaving ``name`` out keeps it)."""
        if value is None:
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return value


class DeleteDatasets(StrictModel):
    ids: list[UUID1] | None

    @field_validator("ids")
    @classmethod
    def _no_duplicates(cls, ids: list[str] | None) -> list[str] | None:
        if ids is None:
            return None
        duplicates = [i for i, count in Counter(ids).items() if count > 1]
        if duplicates:
            joined = ", ".join(duplicates)
            raise PydanticCustomError("duplicate_uuids", f"Duplicate ids: '{joined}'")
        return ids


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


class ListDatasets(BaseModel):
    """Query string of ``GET /datasets``: strings are coerced, unknown keys refused."""

    model_config = ConfigDict(extra="forbid")

    page: Page = 1
    page_size: PageSize = 30
    orderby: Literal["create_time", "update_time"] = "create_time"
    desc: bool = True
    id: UUID1 | None = None
    name: Annotated[str | None, BeforeValidator(_empty_is_none)] = Field(
        None, description="Only the dataset with this name (ignoring case); empty: no filter."
    )


class DatasetPublic(BaseModel):
    """A dataset as RAGFlow shows it."""

    id: str
    avatar: str | None
    tenant_id: str
    name: str
    language: str
    description: str | None
    embedding_model: str = Field(description="`model@provider`.")
    permission: str = Field(description="`me` (only the owner) or `team`.")
    created_by: str
    document_count: int
    token_num: int
    chunk_count: int
    similarity_threshold: float
    vector_similarity_weight: float
    chunk_method: str
    pipeline_id: str | None
    parser_config: dict[str, Any]
    pagerank: int
    graphrag_task_id: str | None
    graphrag_task_finish_at: str | None
    raptor_task_id: str | None
    raptor_task_finish_at: str | None
    mindmap_task_id: str | None
    mindmap_task_finish_at: str | None
    status: str = Field(description='"1": valid.')
    create_time: int = Field(description="Milliseconds since the epoch.")
    create_date: str = Field(description="RFC 1123, GMT.")
    update_time: int = Field(description="Milliseconds since the epoch.")
    update_date: str = Field(description="RFC 1123, GMT.")


class DatasetList(BaseModel):
    """``GET /datasets``: one page, and how many datasets match in all."""

    code: int = 0
    data: list[DatasetPublic]
    total_datasets: int
