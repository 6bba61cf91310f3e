"""Requests and responses of ``/datasets/{id}/metadata`` (spec 2.2, 7): the key/value summary
of the documents' ``meta_fields`` and their batch update."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from ragserve.errors import RagserveError, RetCode
from ragserve.schemas.common import fixed_message
from ragserve.schemas.documents import as_fixed
from ragserve.schemas.metadata_update import MetadataUpdateRequest, parse_metadata_update

Scalar = str | int | float | bool


def _document_ids(value: Any) -> Any:
    if value is not None and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`doc_ids` must be a list of strings.")
    return value


class SummaryRequest(BaseModel):
    """Optional body of ``GET …/metadata/summary`` (RAGFlow reads a body even on GET)."""

    model_config = ConfigDict(extra="ignore")

    doc_ids: Annotated[list[str] | None, BeforeValidator(_document_ids)] = Field(
        None, description="Only these documents; missing, null or empty: all of them."
    )


class Selector(BaseModel):
    document_ids: list[str] | None = Field(
        None, description="Only these documents; missing, null or empty: all of them."
    )
    metadata_condition: dict[str, Any] | None = Field(
        None,
        description='Only documents whose `meta_fields` match: `{"logic": "and"|"or", '
        '"conditions": [{"name", "comparison_operator", "value"}]}`.',
    )


class MetadataSet(BaseModel):
    key: str = Field(min_length=1)
    value: Scalar | list[Scalar] = Field(description="A list value is deduplicated.")
    match: Scalar | None = Field(
        None, description="Replace only the value, or the list elements, equal to this."
    )


class MetadataRemove(BaseModel):
    key: str = Field(min_length=1)
    value: Scalar | None = Field(
        None, description="Remove only the value, or the list elements, equal to this."
    )


class UpdateMetadata(BaseModel):
    """Body of ``POST …/metadata/update``: set keys, then delete keys, in the ``meta_fields``
    of the selected documents. Values compare by their text."""

    model_config = ConfigDict(extra="ignore")

    selector: Selector | None = None
    updates: list[MetadataSet] | None = None
    deletes: list[MetadataRemove] | None = None
    _request: MetadataUpdateRequest = PrivateAttr()

    @model_validator(mode="wrap")
    @classmethod
    def _parsed(cls, data: Any, handler: ModelWrapValidatorHandler[UpdateMetadata]) -> Any:
        """RAGFlow's checks and texts first (``parse_metadata_update``), then the fields."""
        if isinstance(data, cls):
            return data
        request = None
        if isinstance(data, dict):
            try:
                request = parse_metadata_update(data)
            except RagserveError as error:
                raise as_fixed(error) from None
        model = handler(data)
        if request is not None:
            model._request = request
        return model

    @property
    def request(self) -> MetadataUpdateRequest:
        """The validated update, as the service applies it."""
        return self._request


class ValueCounts(BaseModel):
    type: str = Field(description="The key's most common type: string, number, time or list.")
    values: list[tuple[str, int]] = Field(
        description="Each value as text with how many documents hold it, most frequent first."
    )


class MetadataSummary(BaseModel):
    summary: dict[str, ValueCounts] = Field(description="Per key of `meta_fields`.")


class MetadataUpdated(BaseModel):
    updated: int = Field(description="Documents whose `meta_fields` changed.")
    matched_docs: int = Field(description="Documents the selector chose.")
