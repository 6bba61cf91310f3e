"""The early RAGFlow API (spec ragflow-more.md E): its requests and its old field names.

These are the shapes of 2024's API reference; the routes (``api/early.py``) are adapters over
today's services, and ``services/early.py`` turns today's rows into these shapes.
"""

from __future__ import annotations

import re
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import fixed_message

DataT = TypeVar("DataT")

DATASET_NAME_LIMIT = 1024
TODAYS_NAME_LIMIT = 128
"""What ``POST /api/v1/datasets`` takes (the names here are ASCII: characters are bytes)."""
DATASET_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
EARLY_CHUNK_METHODS = (
    "naive",
    "general",
    "qa",
    "manual",
    "table",
    "paper",
    "laws",
    "presentation",
    "picture",
    "one",
)
"""``parser_id`` values of the early upload; ``general`` is the old name of ``naive``."""


class EarlyResult(BaseModel, Generic[DataT]):
    """The old ``/v1/api`` envelope: ``{"retcode": 0, "retmsg": "success", "data": …}``
    (errors too carry ``retcode`` and ``retmsg``, see ``api/errors.py``)."""

    retcode: int = Field(0, description="0 on success; else RAGFlow's RetCode.")
    retmsg: str = "success"
    data: DataT


class CreateEarlyDataset(BaseModel):
    """``POST /api/v1/dataset``."""

    model_config = ConfigDict(extra="ignore")

    dataset_name: str = Field(
        description=f"Fewer than {DATASET_NAME_LIMIT} characters of `A-Z a-z 0-9 _ . -`."
    )

    @model_validator(mode="before")
    @classmethod
    def _old_checks(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "dataset_name" not in data:
            raise fixed_message(
                RetCode.ARGUMENT_ERROR, "Expected 'dataset_name' field in request body!"
            )
        name = data["dataset_name"]
        if not isinstance(name, str) or not name.strip():
            raise fixed_message(RetCode.DATA_ERROR, "Empty dataset name!")
        name = name.strip()
        if len(name) >= DATASET_NAME_LIMIT:
            raise fixed_message(
                RetCode.DATA_ERROR,
                f"Dataset name: {name[:64]}... with length {len(name)} exceeds "
                f"{DATASET_NAME_LIMIT}!",
            )
        if len(name) > TODAYS_NAME_LIMIT:  # today's datasets keep their own, lower limit
            raise fixed_message(
                RetCode.DATA_ERROR,
                f"Dataset name length is {len(name)} which is large than {TODAYS_NAME_LIMIT}",
            )
        if DATASET_NAME.fullmatch(name) is None:
            raise fixed_message(
                RetCode.DATA_ERROR,
                "Dataset name may hold only letters, digits, '_', '.' and '-'!",
            )
        return {**data, "dataset_name": name}


class EarlyDatasetName(BaseModel):
    dataset_name: str


class EarlyDataset(BaseModel):
    """A dataset with the old field names."""

    id: str
    name: str
    avatar: str | None
    description: str | None
    language: str
    tenant_id: str
    created_by: str
    permission: str
    embd_id: str
    parser_id: str
    parser_config: dict[str, Any]
    doc_num: int
    chunk_num: int
    token_num: int
    similarity_threshold: float
    vector_similarity_weight: float
    status: str
    create_time: int
    create_date: str
    update_time: int
    update_date: str


class EarlyDocument(BaseModel):
    """A document row with the old field names (``process_duation`` is RAGFlow's spelling)."""

    id: str
    kb_id: str
    name: str
    location: str
    size: int
    type: str
    thumbnail: str
    source_type: str
    created_by: str
    parser_id: str
    parser_config: dict[str, Any]
    chunk_num: int
    token_num: int
    progress: float
    progress_msg: str
    process_begin_at: str | None
    process_duation: float
    run: str = Field(description="`0` unstarted, `1` running, `2` cancelled, `3` done, `4` failed.")
    status: str
    create_time: int
    create_date: str
    update_time: int
    update_date: str


class EarlyUploadOptions(BaseModel):
    """The form fields of ``POST /v1/api/document/upload`` besides the file."""

    kb_name: str
    parser_id: str | None = None
    run: bool = False


class EarlyChunk(BaseModel):
    content: str
    doc_name: str
    img_id: str


class ListEarlyChunks(BaseModel):
    """Query of ``GET /v1/api/list_chunks``: one of the two is required."""

    model_config = ConfigDict(extra="ignore")

    doc_name: str | None = Field(None, description="The document's name.")
    doc_id: str | None = Field(None, description="The document's id (wins over the name).")

    @model_validator(mode="after")
    def _one_of(self) -> ListEarlyChunks:
        if not self.doc_name and not self.doc_id:
            raise fixed_message(RetCode.DATA_ERROR, "Can't find doc_name or doc_id")
        return self


class ListKbDocs(BaseModel):
    """Body of ``POST /v1/api/list_kb_docs``."""

    model_config = ConfigDict(extra="ignore")

    kb_name: str = Field(description="The dataset's name.")
    page: int = Field(1, ge=1, le=1_000_000_000)
    page_size: int = Field(15, ge=1, le=1_000_000)
    orderby: Literal["create_time", "chunk_num", "size"] = "create_time"
    desc: bool = True
    keywords: str = Field("", description="A case-insensitive part of the document names.")

    @model_validator(mode="before")
    @classmethod
    def _kb_name_required(cls, data: Any) -> Any:
        if isinstance(data, dict) and not str(data.get("kb_name") or "").strip():
            raise fixed_message(RetCode.ARGUMENT_ERROR, "required argument are missing: kb_name; ")
        return data


class KbDoc(BaseModel):
    doc_id: str
    doc_name: str


class KbDocPage(BaseModel):
    docs: list[KbDoc]
    total: int


class DeleteEarlyDocuments(BaseModel):
    """Body of ``DELETE /v1/api/document``: names or ids (ids win when both are given)."""

    model_config = ConfigDict(extra="ignore")

    doc_names: list[str] | None = None
    doc_ids: list[str] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DeleteEarlyDocuments:
        if not self.doc_names and not self.doc_ids:
            raise fixed_message(RetCode.DATA_ERROR, "Can't find doc_names or doc_ids")
        return self
