"""A mind map of passages, as RAGFlow's search page shows one: the chat model summarises the
passages as a Markdown outline (``MINDMAP_PROMPT``), which ``outline_tree`` reads into nested
``{"id": <text>, "children": [...]}`` nodes (leaves have no ``children``)."""

from __future__ import annotations

import re
from typing import Any

MINDMAP_PROMPT = """You summarise a text into a mind map.

1. Give the text a title.
2. Divide the text into the sections of a mind map; split complex sections into sub-sections.
3. Under each bottom-level section, give a short summary of its content.

Answer in Markdown only, in the language of the text: the title as a `#` heading, sections as \
`##`, `###` (and deeper) headings, summaries as `-` list items."""

EMPTY_MAP: dict[str, Any] = {"id": "root", "children": []}

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*?)\s*$")
_EMPHASIS = re.compile(r"\*+|_{2,}")


def _clean(text: str) -> str:
    return _EMPHASIS.sub("", text).strip()


def outline_tree(markdown: str) -> dict[str, Any]:
    """The outline's tree: its one top heading is the root, else a ``root`` node holds the
    top-level entries. Headings nest by level, list items by indentation under the heading
    above them; other lines are ignored."""
    root: dict[str, Any] = {"id": "root", "children": []}
    # (depth, node): headings are depth 1..6, list items 10 + their indentation
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        item = None if heading else _ITEM.match(line)
        if heading:
            depth, text = len(heading.group(1)), _clean(heading.group(2))
        elif item:
            depth, text = 10 + len(item.group(1).expandtabs(4)), _clean(item.group(2))
        else:
            continue
        if not text:
            continue
        while stack[-1][0] >= depth:
            stack.pop()
        node: dict[str, Any] = {"id": text}
        stack[-1][1].setdefault("children", []).append(node)
        stack.append((depth, node))
    top = root["children"]
    if len(top) == 1 and top[0].get("children"):
        return dict(top[0])
    return root
