"""The agents ragserve ships ready to use, one JSON file each in this package (RAGFlow keeps
its own in ``agent/templates/*.json``): ``{id, title: {lang: text}, description: {lang:
text}, canvas_type, canvas_category, avatar, dsl}``. Their ``llm_id``s are empty (the
tenant's default chat model) and their Retrieval ``kb_ids`` are empty (no dataset until the
user names one: ``ragserve agent create --template NAME --dataset ID``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _all() -> tuple[tuple[str, str], ...]:
    files = resources.files(__name__)
    found = [
        (entry.name.removesuffix(".json"), entry.read_text(encoding="utf-8"))
        for entry in files.iterdir()
        if entry.name.endswith(".json")
    ]
    return tuple(sorted(found))


def templates() -> list[dict[str, Any]]:
    """Every template, by name (a fresh copy each call)."""
    return [json.loads(text) for _, text in _all()]


def names() -> list[str]:
    return [name for name, _ in _all()]
