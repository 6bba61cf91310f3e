"""JSON and JSON Lines: one TEXT block per record, rendered as readable ``key: value`` lines.

A record is an item of a top-level array, a JSON Lines line, or a whole top-level object.
Nested objects are flattened with dotted keys (``address.city: Paris``); lists of plain
values are joined with commas, lists of objects numbered (``items.0.name: pen``).
"""

from __future__ import annotations

import json
from typing import Any

from ragserve.ingest.parsers.text import decode_text
from ragserve.ingest.types import Block, BlockKind, ParsedDocument, ParseError


def parse_json(data: bytes) -> ParsedDocument:
    """A .json file; one that holds several values, one per line, is read as JSON Lines."""
    text = decode_text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":
            return _parse_lines(text)
        raise ParseError(
            f"The file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise ParseError("The file is not readable JSON: it is nested too deeply.") from None
    records = value if isinstance(value, list) else [value]
    return ParsedDocument(blocks=_blocks(records))


def parse_jsonl(data: bytes) -> ParsedDocument:
    """A JSON Lines file (.jsonl, .ldjson): one value per non-blank line."""
    return _parse_lines(decode_text(data))


def _parse_lines(text: str) -> ParsedDocument:
    records: list[Any] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ParseError(
                f"Line {number} is not valid JSON: {error.msg} at column {error.colno}."
            ) from None
        except RecursionError:
            raise ParseError(f"Line {number} is not readable JSON: nested too deeply.") from None
    return ParsedDocument(blocks=_blocks(records))


def _blocks(records: list[Any]) -> list[Block]:
    blocks = []
    for record in records:
        try:
            text = render(record)
        except RecursionError:
            raise ParseError("The file is not readable JSON: it is nested too deeply.") from None
        if text.strip():
            blocks.append(Block(kind=BlockKind.TEXT, text=text))
    return blocks


def render(value: Any) -> str:
    """A JSON value as ``key: value`` lines; a plain value as itself."""
    if isinstance(value, list) and not _has_containers(value):
        return ", ".join(_scalar(item) for item in value)
    if isinstance(value, dict | list):
        return "\n".join(f"{key}: {text}" if text else f"{key}:" for key, text in _flatten(value))
    return _scalar(value)


def _flatten(value: dict[str, Any] | list[Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        name = f"{prefix}{key}"
        if (isinstance(item, dict) and item) or (isinstance(item, list) and _has_containers(item)):
            pairs.extend(_flatten(item, f"{name}."))
        elif isinstance(item, list):
            pairs.append((name, ", ".join(_scalar(part) for part in item)))
        elif isinstance(item, dict):
            pairs.append((name, ""))
        else:
            pairs.append((name, _scalar(item)))
    return pairs


def _has_containers(values: list[Any]) -> bool:
    return any(isinstance(value, dict | list) for value in values)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
