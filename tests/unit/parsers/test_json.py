from __future__ import annotations

import json

import pytest

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.jsonl import parse_json, parse_jsonl, render
from ragserve.ingest.types import BlockKind, ParseError


def test_array_items_are_blocks_with_dotted_keys() -> None:
    data = json.dumps(
        [
            {"name": "Ada", "address": {"city": "London", "zip": None}, "tags": ["math", "code"]},
            {"name": "Alan", "active": True, "score": 9.5},
        ]
    ).encode()
    parsed = parse_file(data, suffix="json")
    assert [(block.kind, block.text) for block in parsed.blocks] == [
        (BlockKind.TEXT, "name: Ada\naddress.city: London\naddress.zip: null\ntags: math, code"),
        (BlockKind.TEXT, "name: Alan\nactive: true\nscore: 9.5"),
    ]


def test_top_level_object_is_one_block() -> None:
    (block,) = parse_json(b'{"a": {"b": {"c": 1}}, "list": [{"x": 1}, {"x": 2}], "e": {}}').blocks
    assert block.text == "a.b.c: 1\nlist.0.x: 1\nlist.1.x: 2\ne:"


def test_scalars_and_unicode() -> None:
    parsed = parse_json('["héllo", 3, null, [1, 2]]'.encode())
    assert [block.text for block in parsed.blocks] == ["héllo", "3", "null", "1, 2"]
    assert render({"k": "日本"}) == "k: 日本"


def test_empty_strings_make_no_blocks() -> None:
    assert parse_json(b'["", "  "]').blocks == []


def test_jsonl_one_block_per_line() -> None:
    data = b'{"q": "why?", "a": "because"}\n\n{"q": "how?"}\r\n'
    parsed = parse_file(data, suffix="jsonl")
    assert [block.text for block in parsed.blocks] == ["q: why?\na: because", "q: how?"]


def test_json_suffix_holding_json_lines() -> None:
    parsed = parse_file(b'{"a": 1}\n{"a": 2}\n', suffix="json")
    assert [block.text for block in parsed.blocks] == ["a: 1", "a: 2"]


def test_invalid_json_names_the_line() -> None:
    with pytest.raises(ParseError, match=r"line 3, column 8"):
        parse_json(b'{\n  "a": 1,\n  "b": oops\n}')


def test_invalid_jsonl_names_the_line() -> None:
    with pytest.raises(ParseError, match=r"^Line 2 is not valid JSON"):
        parse_jsonl(b'{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(ParseError, match=r"^Line 3 is not valid JSON"):
        parse_file(b'{"a": 1}\n{"a": 2}\n[oops\n', suffix="ldjson")


def test_too_deep_json() -> None:
    with pytest.raises(ParseError, match="too deeply"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def test_binary_is_not_json() -> None:
    with pytest.raises(ParseError, match="not text"):
        parse_file(b"\x00\x01\x02\x03" * 10, suffix="json")
