"""``POST /api/v1/dify/retrieval``: Dify's external knowledge API (spec 6), its request checked
with the texts and codes ragserve has always answered (101, HTTP 200), and its records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import fixed_message
from ragserve.schemas.retrieval import MAX_TOP_K, MetadataConditionField

DEFAULT_TOP_K = 1024
REQUIRED = ("knowledge_id", "query")


class RetrievalSetting(BaseModel):
    """How many records at most, and the lowest score kept."""

    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="The most records to return.")
    score_threshold: float = Field(
        0.0, ge=0, le=1, description="Records scoring lower are dropped."
    )

    @field_validator("top_k", mode="before")
    @classmethod
    def _top_k(cls, value: Any) -> Any:
        if value is None:
            return DEFAULT_TOP_K
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
            raise fixed_message(
                RetCode.ARGUMENT_ERROR,
                f"`retrieval_setting.top_k` must be an integer from 1 to {MAX_TOP_K}.",
            )
        return value

    @field_validator("score_threshold", mode="before")
    @classmethod
    def _score_threshold(cls, value: Any) -> Any:
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise fixed_message(
                RetCode.ARGUMENT_ERROR,
                "`retrieval_setting.score_threshold` must be a number from 0 to 1.",
            )
        return float(value)


class DifyRetrievalRequest(BaseModel):
    """What Dify sends for a query. Unknown keys are ignored."""

    knowledge_id: str = Field(description="The dataset to search (its id).")
    query: str = Field(description="What to search for.")
    retrieval_setting: RetrievalSetting = Field(default_factory=RetrievalSetting)
    metadata_condition: MetadataConditionField = None
    use_kg: bool = Field(
        False, description="Add the dataset's knowledge graph's answer as the first record."
    )

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        """The texts ragserve's Dify route has always answered (code 101, HTTP 200)."""
        if not isinstance(data, dict):
            return data  # the model refuses it
        missing = [name for name in REQUIRED if not data.get(name)]
        if missing:
            message = "required argument are missing: " + "".join(f"{m}; " for m in missing)
            raise fixed_message(RetCode.ARGUMENT_ERROR, message)
        if not all(isinstance(data[name], str) for name in REQUIRED):
            raise fixed_message(
                RetCode.ARGUMENT_ERROR, "`knowledge_id` and `query` must be strings."
            )
        return data

    @field_validator("retrieval_setting", mode="before")
    @classmethod
    def _setting(cls, value: Any) -> Any:
        if value is None:
            return RetrievalSetting()
        if not isinstance(value, dict | RetrievalSetting):
            raise fixed_message(RetCode.ARGUMENT_ERROR, "`retrieval_setting` must be an object.")
        return value


class DifyRecord(BaseModel):
    """One chunk found."""

    content: str = Field(description="The chunk's text.")
    score: float = Field(description="Its similarity to the query, in [0, 1].")
    title: str = Field(description="The document's name.")
    metadata: dict[str, Any] = Field(
        description="The document's `meta_fields`, and its id as `doc_id`."
    )


class DifyRecords(BaseModel):
    """Dify's answer: the records, best first (no envelope)."""

    records: list[DifyRecord]


class DifyErrorBody(BaseModel):
    """An error of the Dify route, with the HTTP status as ``code``; Dify's ``error_code``/
    ``error_msg`` are present for 1001/1002 (authorization, HTTP 403) and 2001 (unknown
    knowledge, HTTP 404). Argument errors are HTTP 200 with code 101."""

    code: int
    message: str
    error_code: int | None = Field(None, exclude_if=lambda value: value is None)
    error_msg: str | None = Field(None, exclude_if=lambda value: value is None)
