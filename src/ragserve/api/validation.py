"""Turn validation failures into RAGFlow's ``Field: … - Message: … - Value: …`` lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})
MAX_VALUE_CHARS = 128
SHOWN_VALUE_CHARS = 125
_SURROGATE = re.compile("[\ud800-\udfff]")


def format_validation_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(_format_one(error) for error in errors)


def _format_one(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in REQUEST_PARTS:
        loc = loc[1:]
    value = str(error.get("input", ""))
    if len(value) > MAX_VALUE_CHARS:
        value = value[:SHOWN_VALUE_CHARS] + "..."
    field = escape_surrogates(".".join(loc))
    message = escape_surrogates(str(error.get("msg", "")))
    return f"Field: <{field}> - Message: <{message}> - Value: <{escape_surrogates(value)}>"


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate spelt as its JSON escape (``\\ud800``): a response
    cannot encode the character itself."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
