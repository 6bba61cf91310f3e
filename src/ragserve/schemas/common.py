"""Field types that several request models share."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ragserve.errors import RetCode


def _uuid1_hex(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 1:
        raise PydanticCustomError("invalid_UUID1_format", "Invalid UUID1 format")
    return parsed.hex


UUID1 = Annotated[str, AfterValidator(_uuid1_hex)]
"""A uuid1 in any of its spellings, normalised to 32 lowercase hex digits."""

# Bounds that keep page offsets inside 64-bit database integers.
MAX_PAGE = 1_000_000_000
MAX_PAGE_SIZE = 1_000_000
Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


def _first_page_at_zero(page: int) -> int:
    return page or 1


ListPage = Annotated[
    int,
    Field(ge=0, le=MAX_PAGE, description="1 for the first page; 0 also means the first page."),
    AfterValidator(_first_page_at_zero),
]
"""``page`` of the document, chunk, chat and session lists, where RAGFlow takes 0 as page 1."""
ListPageSize = Annotated[
    int, Field(ge=0, le=MAX_PAGE_SIZE, description="Items per page; 0 gives an empty page.")
]
"""``page_size`` of those lists: 0 gives an empty page (the total still counts everything)."""


FIXED_MESSAGE = "ragserve_fixed_message"


def fixed_message(code: RetCode, message: str, *, data: Any = None) -> PydanticCustomError:
    """A validation failure that RAGFlow reports with a fixed text and code of its own (such as
    ``102 "`dataset_ids` is required."``) rather than as a ``Field: … - Message: …`` line. Raise
    it from a validator; the API's one validation handler answers it as it is (with ``data``
    in the envelope when given, as RAGFlow's ``data: false`` on some auth failures)."""
    context: dict[str, Any] = {"message": message, "code": int(code)}
    if data is not None:
        context["data"] = data
    return PydanticCustomError(FIXED_MESSAGE, "{message}", context)


def required_arguments(data: Any, *names: str) -> None:
    """RAGFlow's ``validate_request``: each of ``names`` must be a key of the body, else 101
    ``required argument are missing: a,b; ``. Call it from a ``mode="before"`` model
    validator; a body that is not an object is left for the model to refuse."""
    if isinstance(data, dict):
        missing = [name for name in names if name not in data]
        if missing:
            raise fixed_message(
                RetCode.ARGUMENT_ERROR, f"required argument are missing: {','.join(missing)}; "
            )


def _text(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, f"`{info.field_name}` must be a string.")
    return value


Text = Annotated[str, BeforeValidator(_text)]
"""A string that a RAGFlow web handler reads with ``req.get(key, "")``: null reads as "", any
other type is 101 "`key` must be a string." (declare the default, usually "")."""


class StrictModel(BaseModel):
    """A request body that RAGFlow validates strictly (spec 0.6): no coercion, no unknown keys.

    FastAPI validates bodies with ``from_attributes``, which would report a non-object as
    "a valid dictionary or object to extract fields from"; this keeps pydantic's strict text.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _an_object(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if not isinstance(value, dict | cls):
            raise PydanticCustomError(
                "model_type",
                "Input should be a valid dictionary or instance of {class_name}",
                {"class_name": cls.__name__},
            )
        return handler(value)
