"""What every JSON value ragserve stores must keep, so that it can always be read back and
answered: no lone surrogate (``"\\ud800"`` parses, but no response, log line or database text
can encode it) and at most ``MAX_DEPTH`` levels of nesting (pydantic refuses to serialize
deeper values, and Python's parser gives up around a thousand).

Requests are refused when they break these (``api.body``); a stored value that breaks them,
written by an older version, is read with the bad part replaced (``readable``), so that it
spoils only itself, never the listing that shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 64
"""Objects and lists nested in one body, counting the body itself."""
LONE_SURROGATE = "String should not contain a lone surrogate"
TOO_DEEP = f"JSON should be nested at most {MAX_DEPTH} levels deep"
REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""The only way JSON text spells a surrogate (UTF-8 cannot encode one)."""
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")

Path = tuple[str | int, ...]


def may_hold_surrogates(text: str | bytes) -> bool:
    """Whether the JSON text may hold a lone surrogate (False: it surely holds none)."""
    if isinstance(text, bytes):
        return _SURROGATE_ESCAPE_BYTES.search(text) is not None
    return _SURROGATE_ESCAPE.search(text) is not None


def is_too_deep(text: str) -> bool:
    """Whether the JSON text nests deeper than ``MAX_DEPTH``, found without parsing it: its
    brackets outside strings, innermost pairs removed once per level."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):
        brackets, removed = _INNERMOST.subn("", brackets)
        if not brackets or not removed:
            return False
    return True


def problems(value: Any) -> Iterator[tuple[Path, str, Any]]:
    """``(where, what is wrong, the value there)`` for each key or string holding a lone
    surrogate (a key is reported at the object holding it) and each object or list nested
    too deep, in document order (an object's keys before its values). Iterative: a parsed
    value may nest deeper than the stack."""
    stack: list[tuple[Path, int, Any]] = [((), 1, value)]
    while stack:
        path, depth, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                yield path, LONE_SURROGATE, item
        elif isinstance(item, dict | list) and depth > MAX_DEPTH:
            yield path, TOO_DEEP, item
        elif isinstance(item, dict):
            yield from ((path, LONE_SURROGATE, k) for k in item if _SURROGATE.search(k))
            stack.extend(((*path, k), depth + 1, v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*path, i), depth + 1, item[i]) for i in reversed(range(len(item))))


def readable(value: Any, depth: int = 1) -> Any:
    """``value`` with each lone surrogate replaced by U+FFFD and each object or list nested
    deeper than ``MAX_DEPTH`` by null."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [readable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {readable(k): readable(v, depth + 1) for k, v in value.items()}
    return value
