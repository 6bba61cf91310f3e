"""Requests on documents (spec 2.2). The list query keeps RAGFlow's lenient parsing."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ragserve.domain import RunState
from ragserve.errors import DataError
from ragserve.schemas.common import Page, PageSize
from ragserve.schemas.metadata_condition import MetadataCondition, parse_metadata_condition

RUN_NAMES = {state.value: state.name for state in RunState if state is not RunState.SCHEDULE}
"""What the API shows for each stored ``run`` code (RAGFlow has no name for SCHEDULE)."""
RUN_CODES = {name: code for code, name in RUN_NAMES.items()}
SORTABLE_COLUMNS = (
    "create_time",
    "update_time",
    "name",
    "size",
    "type",
    "suffix",
    "run",
    "status",
    "progress",
    "chunk_count",
    "token_count",
)


def _false_only_when_false(value: Any) -> bool:
    """RAGFlow's ``desc``: false only for the string ``false`` (any case)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() != "false"


def _run_code(value: Any) -> str:
    text = str(value).strip().upper()
    if text in RUN_CODES:
        return RUN_CODES[text]
    if text in RUN_NAMES or text == RunState.SCHEDULE:
        return text
    raise ValueError(f"run must be one of {', '.join(RUN_NAMES.values())} or 0-5")


def _empty_is_none(value: Any) -> Any:
    """An empty query value (``?id=``) means the filter is not set, as in RAGFlow."""
    return None if value == "" else value


MAX_TIME_MS = 2**53
OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]


class ListDocuments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: Page = 1
    page_size: PageSize = 30
    orderby: str = "create_time"
    desc: Annotated[bool, BeforeValidator(_false_only_when_false)] = True
    keywords: OptionalText = None
    id: OptionalText = None
    name: OptionalText = None
    suffix: list[str] = []
    run: list[Annotated[str, BeforeValidator(_run_code)]] = []
    create_time_from: Annotated[int, Field(ge=0, le=MAX_TIME_MS)] = 0
    create_time_to: Annotated[int, Field(ge=0, le=MAX_TIME_MS)] = 0
    metadata_condition: MetadataCondition | None = None

    @field_validator("orderby")
    @classmethod
    def _known_column(cls, value: str) -> str:
        aliases = {"chunk_num": "chunk_count", "token_num": "token_count"}
        value = aliases.get(value, value)
        if value not in SORTABLE_COLUMNS:
            raise ValueError(f"orderby must be one of {', '.join(SORTABLE_COLUMNS)}")
        return value

    @field_validator("metadata_condition", mode="before")
    @classmethod
    def _condition_json(cls, value: Any) -> Any:
        if value is None or value == "" or isinstance(value, MetadataCondition):
            return None if value == "" else value
        try:
            raw = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            raise DataError("metadata_condition must be valid JSON.") from None
        if not isinstance(raw, dict):
            raise DataError("metadata_condition must be an object.")
        return parse_metadata_condition(raw)


class DeleteDocuments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ids: list[str] | None = None
