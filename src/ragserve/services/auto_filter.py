"""A metadata filter the chat model writes from the question (the agent Retrieval's
``meta_data_filter: {"method": "auto"}``): the model sees the datasets' metadata fields with
their types and most common values, and answers the conditions the question names; they
become a ``metadata_condition``. A reply that is not a list of known fields and operators, or a
failing model, means no filter (the search is not narrowed on a guess)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from ragserve.db.models import Document
from ragserve.errors import RagserveError
from ragserve.models.chat import ChatModel
from ragserve.rag.metadata_ops import summarize_metadata
from ragserve.rag.prompt import META_FILTER_PROMPT
from ragserve.runtime import Runtime

logger = logging.getLogger("ragserve.retrieval")

OPERATORS = frozenset({"=", "≠", ">", "<", "≥", "≤", "contains", "in"})
SHOWN_VALUES = 10
_LIST = re.compile(r"\[.*\]", re.DOTALL)


def auto_condition(
    runtime: Runtime, chat: ChatModel, dataset_ids: Sequence[str], question: str
) -> dict[str, Any] | None:
    """The ``metadata_condition`` the model finds in the question, or None."""
    with runtime.read() as session:
        metas = session.scalars(
            select(Document.meta_fields).where(Document.dataset_id.in_(list(dataset_ids)))
        )
        summary = summarize_metadata(meta or {} for meta in metas)
    if not summary:
        return None
    lines = []
    for key, info in summary.items():
        values = [str(value) for value, _count in list(info["values"])[:SHOWN_VALUES]]  # type: ignore[call-overload]
        lines.append(f"- {key} ({info['type']}): {', '.join(values)}")
    system = META_FILTER_PROMPT.format(metadata="\n".join(lines))
    try:
        reply = chat.complete(
            [{"role": "system", "content": system}, {"role": "user", "content": question}],
            max_tokens=256,
        )
    except RagserveError as error:
        logger.warning("automatic metadata filter: the model failed: %s", error.message)
        return None
    conditions = _conditions(reply, set(summary))
    return {"logic": "and", "conditions": conditions} if conditions else None


def _conditions(reply: str, keys: set[str]) -> list[dict[str, Any]]:
    found = _LIST.search(reply)
    try:
        items = json.loads(found.group(0)) if found else []
    except json.JSONDecodeError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"name": item["key"], "comparison_operator": item["op"], "value": item.get("value")}
        for item in items
        if isinstance(item, dict) and item.get("key") in keys and item.get("op") in OPERATORS
    ]
