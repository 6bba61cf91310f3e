"""A dataset's mind map (``/v1/kb/run_mindmap``): the chat model outlines each parsed document
(its chunks in order, up to ``DOCUMENT_TOKENS`` tokens) with the search page's mind-map prompt,
and the outlines become the children of one root named after the dataset. Stored as the
``mind_map`` of the dataset's ``knowledge_graph`` row, which ``knowledge_graph`` shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ragserve.db.models import Document
from ragserve.errors import RagserveError
from ragserve.rag.mindmap import MINDMAP_PROMPT, outline_tree
from ragserve.runtime import Runtime
from ragserve.services import llm_batch
from ragserve.services.dataset_chunks import dataset_records, start_build
from ragserve.services.graphrag import graph_row
from ragserve.services.raptor import is_summary
from ragserve.tokenizer import count_tokens

Report = Callable[[float | None, str | None], None]
DOCUMENT_TOKENS = 6000
REPLY_TOKENS = 1024
NO_MODEL = (
    "The mind map needs a chat model to write it, and neither the dataset nor its tenant has "
    "one: set the tenant's chat model first."
)


class MindMapError(RagserveError):
    """The build cannot finish: the task fails with this message."""


def build(runtime: Runtime, dataset_id: str, report: Report) -> list[str]:
    with runtime.read() as session:
        start = start_build(session, runtime, dataset_id, MindMapError, NO_MODEL)
        document_ids = start.document_ids
        rows = session.execute(
            select(Document.id, Document.name).where(Document.id.in_(document_ids))
        )
        names = {document_id: name for document_id, name in rows}
        tenant_id, title = start.dataset.tenant_id, start.dataset.name
    model_id = start.model_id
    texts = [_document_text(runtime, document_id) for document_id in document_ids]
    report(0.1, f"Mind map of {len(texts)} documents with {model_id}.")
    outlines = llm_batch.ask_all(
        runtime,
        runtime.chat_model(model_id, tenant_id),
        tenant_id=tenant_id,
        model_id=model_id,
        step="Mind map",
        conversations=[
            [{"role": "system", "content": MINDMAP_PROMPT}, {"role": "user", "content": text}]
            for text in texts
        ],
        max_tokens=REPLY_TOKENS,
        renew=lambda: report(None, None),
    )
    children: list[dict[str, Any]] = []
    for document_id, outline in zip(document_ids, outlines, strict=True):
        tree = outline_tree(outline)
        if tree["id"] == "root":  # an outline without a title: the document names it
            tree = {"id": names.get(document_id, document_id), "children": tree["children"]}
        children.append(tree)
    with runtime.transaction() as session:
        graph_row(session, dataset_id, tenant_id).mind_map = {"id": title, "children": children}
    return []


def _document_text(runtime: Runtime, document_id: str) -> str:
    parts: list[str] = []
    tokens = 0
    for record in dataset_records(runtime, [document_id]):
        if is_summary(record) or not record.content.strip():
            continue
        tokens += count_tokens(record.content)
        if parts and tokens > DOCUMENT_TOKENS:
            break
        parts.append(record.content)
    return "\n\n".join(parts)
