"""Turn validation failures into RAGFlow's ``Field: … - Message: … - Value: …`` lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})
MAX_VALUE_CHARS = 128
SHOWN_VALUE_CHARS = 125


def format_validation_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(_format_one(error) for error in errors)


def _format_one(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in REQUEST_PARTS:
        loc = loc[1:]
    value = str(error.get("input", ""))
    if len(value) > MAX_VALUE_CHARS:
        value = value[:SHOWN_VALUE_CHARS] + "..."
    return f"Field: <{'.'.join(loc)}> - Message: <{error.get('msg', '')}> - Value: <{value}>"
