"""Chats over table datasets answer with a computed table (RAGFlow's "SQL retrieval").

When every dataset of a chat was parsed with the ``table`` method, the question first goes to
the chat model, which writes one SQL query over the datasets' rows (``rag.sql_table``: an
in-memory SQLite table, read-only); a failing query is retried once with SQLite's error. The
answer is the result as a markdown table with a Source column naming each row's document
(aggregates have none). No rows, no query, or no table rows at all: ``None``, and the chat
answers from retrieved passages as usual.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from sqlalchemy import select

from ragserve.db.models import Dataset, Document
from ragserve.domain import ChunkMethod, RunState
from ragserve.errors import RagserveError
from ragserve.models.chat import ChatModel
from ragserve.rag.prompt import TABLE_SQL_PROMPT, TABLE_SQL_RETRY
from ragserve.rag.sql_table import QueryError, QueryResult, Table, markdown
from ragserve.runtime import Runtime
from ragserve.services.dataset_chunks import dataset_records

logger = logging.getLogger("ragserve.chat")

MAX_TABLE_ROWS = 100_000
REPLY_TOKENS = 512
_FENCE = re.compile(r"^```(?:sql)?\s*|\s*```$", re.IGNORECASE)


def answer(
    runtime: Runtime, dataset_ids: Sequence[str], chat: ChatModel, question: str
) -> str | None:
    """The question answered as a markdown table, or ``None`` (see the module docstring)."""
    table = _table(runtime, dataset_ids)
    if table is None:
        return None
    try:
        result = _query(table, chat, question)
    finally:
        table.close()
    if result is None or not result.rows:
        return None
    return markdown(result)


def _table(runtime: Runtime, dataset_ids: Sequence[str]) -> Table | None:
    with runtime.read() as session:
        methods = session.scalars(select(Dataset.chunk_method).where(Dataset.id.in_(dataset_ids)))
        if not dataset_ids or any(method != ChunkMethod.TABLE for method in methods):
            return None
        documents = session.execute(
            select(Document.id, Document.name)
            .where(
                Document.dataset_id.in_(dataset_ids),
                Document.run == RunState.DONE,
                Document.chunk_method == ChunkMethod.TABLE,
            )
            .order_by(Document.create_time, Document.id)
        ).all()
    names = dict(documents)
    rows = []
    for record in dataset_records(runtime, list(names)):
        if record.available and record.fields:
            rows.append(({k: str(v) for k, v in record.fields.items()}, names[record.document_id]))
            if len(rows) >= MAX_TABLE_ROWS:
                break
    return Table(rows) if rows else None


def _query(table: Table, chat: ChatModel, question: str) -> QueryResult | None:
    messages = [
        {"role": "system", "content": TABLE_SQL_PROMPT.format(schema=table.schema())},
        {"role": "user", "content": question},
    ]
    for attempt in range(2):
        try:
            sql = _FENCE.sub("", chat.complete(messages, max_tokens=REPLY_TOKENS).strip())
        except RagserveError as error:
            logger.warning("table SQL: the model failed: %s", error.message)
            return None
        try:
            return table.run(sql)
        except QueryError as error:
            logger.info("table SQL attempt %d failed: %s", attempt + 1, error)
            messages += [
                {"role": "assistant", "content": sql},
                {"role": "user", "content": TABLE_SQL_RETRY.format(error=error)},
            ]
    return None
