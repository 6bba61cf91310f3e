"""Requests and responses of parsing (``/datasets/{id}/chunks``) and of a document's chunks
(spec 2.2, 2.3), with RAGFlow's names and texts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ragserve.errors import RetCode
from ragserve.schemas.common import ListPage, ListPageSize, fixed_message
from ragserve.schemas.documents import DocumentPublic, NotNull

POSITION_SIZE = 5
"""A position is ``[page, x0, x1, top, bottom]``."""


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class DocumentIds(BaseModel):
    """Body of ``POST`` (parse) and ``DELETE`` (stop parsing) ``/datasets/{id}/chunks``."""

    model_config = ConfigDict(extra="ignore")

    document_ids: list[str] = Field(description="The documents; a repeated id is reported.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        ids = data.get("document_ids") if isinstance(data, dict) else None
        if data is None or (isinstance(data, dict) and not (ids and _is_text_list(ids))):
            raise fixed_message(RetCode.DATA_ERROR, "`document_ids` is required")
        return data


class ListChunks(BaseModel):
    """Query string of ``GET …/documents/{id}/chunks``."""

    model_config = ConfigDict(extra="ignore")

    page: ListPage = 1
    page_size: ListPageSize = 30
    keywords: str | None = Field(
        None, description="Full-text search; matches come back highlighted with `<em>`."
    )
    id: str | None = Field(None, description="Only this chunk (404 when unknown).")


def _text_list(name: str, problem: str, *, questions: bool = False) -> BeforeValidator:
    """A list of strings, null being an empty list; anything else is RAGFlow's 102. Keywords
    are kept as sent (``[""]`` stays ``[""]``); questions are stripped and the blank ones
    dropped, as RAGFlow does."""

    def check(value: Any) -> Any:
        if value is None:
            return []
        if not _is_text_list(value):
            raise fixed_message(RetCode.DATA_ERROR, f"`{name}` {problem}")
        if questions:
            return [item.strip() for item in value if item.strip()]
        return value

    return BeforeValidator(check)


def _content(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise fixed_message(RetCode.DATA_ERROR, "`content` is required")
    return value


def _new_content(value: Any) -> Any:
    if value is None:
        return None  # RAGFlow keeps the content
    if not isinstance(value, str):
        raise fixed_message(RetCode.DATA_ERROR, "`content` should be a string")
    return value


def _positions(value: Any) -> Any:
    if not isinstance(value, list):
        raise fixed_message(RetCode.DATA_ERROR, "`positions` should be a list")
    if not all(isinstance(box, list) and _is_position(box) for box in value):
        raise PydanticCustomError(
            "list_type",
            "Each position should be a list of five integers: [page, x0, x1, top, bottom]",
        )
    return value


def _is_position(box: list[Any] | tuple[Any, ...]) -> bool:
    return len(box) == POSITION_SIZE and all(_is_int(n) for n in box)


def readable_positions(positions: Any) -> list[list[int]]:
    """The boxes of a stored chunk's ``positions`` that are five integers. Anything else (a
    value an older version stored unchecked) is left out: it spoils only itself, never the
    listing or search that shows the chunk."""
    if not isinstance(positions, list | tuple):
        return []
    return [list(box) for box in positions if isinstance(box, list | tuple) and _is_position(box)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chunk_ids(value: Any) -> Any:
    if value is not None and not _is_text_list(value):
        raise fixed_message(RetCode.DATA_ERROR, "`chunk_ids` should be a list")
    return value


class AddChunk(BaseModel):
    """Body of ``POST …/documents/{id}/chunks``."""

    model_config = ConfigDict(extra="ignore")

    content: Annotated[str, BeforeValidator(_content)] = Field(
        description="The chunk's text, not blank. The same text added again replaces it."
    )
    important_keywords: Annotated[
        list[str], _text_list("important_keywords", "is required to be a list")
    ] = Field([], description="Keywords that search weighs above the content.")
    questions: Annotated[
        list[str], _text_list("questions", "is required to be a list", questions=True)
    ] = Field([], description="Questions the chunk answers; embedded instead of the content.")

    @model_validator(mode="before")
    @classmethod
    def _content_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "content" not in data:
            raise fixed_message(RetCode.DATA_ERROR, "`content` is required")
        return data


class UpdateChunk(BaseModel):
    """Body of ``PUT …/documents/{id}/chunks/{chunk_id}``: only the keys given change, and the
    chunk is embedded again."""

    model_config = ConfigDict(extra="ignore")

    content: Annotated[str | None, BeforeValidator(_new_content)] = Field(
        None, description="The new text; null keeps the old one."
    )
    important_keywords: Annotated[
        list[str] | None, _text_list("important_keywords", "should be a list")
    ] = Field(None, description="Replace the keywords.")
    questions: Annotated[
        list[str] | None, _text_list("questions", "should be a list", questions=True)
    ] = Field(None, description="Replace the questions.")
    positions: Annotated[list[list[int]] | NotNull, BeforeValidator(_positions)] = Field(
        None, description="`[page, x0, x1, top, bottom]` boxes."
    )
    available: Annotated[bool | None, BeforeValidator(bool)] = Field(
        None, description="Whether search may return the chunk (any truthy value is true)."
    )


class DeleteChunks(BaseModel):
    """Body of ``DELETE …/documents/{id}/chunks``."""

    model_config = ConfigDict(extra="ignore")

    chunk_ids: Annotated[list[str] | None, BeforeValidator(_chunk_ids)] = Field(
        None, description="The chunks to delete; missing or null: every chunk of the document."
    )


# --------------------------------------------------------------------------------------------
# responses


class Chunk(BaseModel):
    """A chunk as RAGFlow lists it."""

    id: str = Field(description="16 hex digits.")
    content: str = Field(description="Highlighted with `<em>` when listed by keywords.")
    document_id: str
    docnm_kwd: str = Field(description="The document's name.")
    important_keywords: list[str]
    questions: list[str]
    dataset_id: str
    image_id: str
    available: bool
    positions: list[list[int]] = Field(description="`[page, x0, x1, top, bottom]` boxes.")


class ChunkPage(BaseModel):
    """One page of a document's chunks, how many match in all, and the document."""

    total: int
    chunks: list[Chunk]
    doc: DocumentPublic


class AddedChunk(BaseModel):
    """A chunk just added."""

    id: str
    content: str
    document_id: str
    important_keywords: list[str]
    questions: list[str]
    dataset_id: str
    create_time: str = Field(description="`YYYY-MM-DD HH:MM:SS`, UTC.")
    create_timestamp: float = Field(description="Seconds since the epoch.")


class ChunkAdded(BaseModel):
    chunk: AddedChunk
