from __future__ import annotations

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.markdown import parse_markdown
from ragserve.ingest.types import BlockKind

DOCUMENT = """---
title: Front matter
tags: [a, b]
---
# Guide

Some *emphasis* and a [link](https://example.com) with `code`
on two lines.

Setext heading
--------------

- first item
  continued

  second paragraph of the first item
  - nested item
- second item

1. numbered

```python
print("hi")
```

| Name | Qty |
|------|----:|
| pen  | 2   |
| ink  |     |

> A quote.

<div><p>Raw <b>HTML</b> block</p></div>

    indented code

![diagram alt](pic.png)
"""


def test_blocks_in_order() -> None:
    parsed = parse_markdown(DOCUMENT.encode())
    summary = [(block.kind, block.text, block.level) for block in parsed.blocks]
    assert summary == [
        (BlockKind.HEADING, "Guide", 1),
        (BlockKind.TEXT, "Some emphasis and a link with code on two lines.", 0),
        (BlockKind.HEADING, "Setext heading", 2),
        (BlockKind.LIST_ITEM, "first item continued\nsecond paragraph of the first item", 0),
        (BlockKind.LIST_ITEM, "nested item", 0),
        (BlockKind.LIST_ITEM, "second item", 0),
        (BlockKind.LIST_ITEM, "numbered", 0),
        (BlockKind.CODE, 'print("hi")', 0),
        (BlockKind.TABLE, "Name | Qty\npen | 2\nink | ", 0),
        (BlockKind.TEXT, "A quote.", 0),
        (BlockKind.TEXT, "Raw HTML block", 0),
        (BlockKind.CODE, "indented code", 0),
        (BlockKind.TEXT, "diagram alt", 0),
    ]


def test_table_rows_and_header() -> None:
    table = next(block for block in parse_markdown(DOCUMENT.encode()).blocks if block.rows)
    assert table.rows == (("Name", "Qty"), ("pen", "2"), ("ink", ""))
    assert table.has_header


def test_front_matter_is_ignored() -> None:
    parsed = parse_file(DOCUMENT.encode(), suffix="md")
    assert all("Front matter" not in block.text for block in parsed.blocks)


def test_toml_front_matter_and_crlf() -> None:
    text = '+++\ntitle = "x"\n+++\r\n## Only\r\n\r\nbody\r\n'
    parsed = parse_file(text.encode(), suffix="markdown")
    assert [(block.kind, block.text) for block in parsed.blocks] == [
        (BlockKind.HEADING, "Only"),
        (BlockKind.TEXT, "body"),
    ]


def test_thematic_break_is_not_front_matter() -> None:
    parsed = parse_markdown(b"text\n\n---\n\nmore\n")
    assert [block.text for block in parsed.blocks] == ["text", "more"]


def test_hard_break_keeps_the_line() -> None:
    (block,) = parse_markdown(b"line one  \nline two\n").blocks
    assert block.text == "line one\nline two"
