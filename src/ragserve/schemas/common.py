"""Field types that several request models share."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError


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
