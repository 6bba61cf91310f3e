"""The chunk store kept in line with the metadata store, whatever fails in between.

The metadata store is the truth: a document's name, its status, and whether its chunks are still
wanted are committed there. What the chunk store has to do about a change is committed in the
same transaction as ``store_sync`` rows (``record``) and applied after the commit (``apply``). So
a failed commit changes neither store, and a failed store write leaves its rows behind to be
applied again: by the next ``apply`` of the document (operations on a document's chunks begin
with one), by the workers' reaper every minute, and at server start (``apply_all``).

Applying is idempotent and derives everything from the committed row, read under its lock: the
chunks get the row's current name and availability, the row's counts are counted again from the
store, a purge deletes every chunk of the document, and a document whose row is gone loses its
chunks. The rows are deleted by the transaction that applied them; if that commit fails they are
applied once more, which changes nothing.

A parse's last task replaces all of a document's chunks from the locked row, which subsumes
every pending action: it drops the document's rows in the same transaction (``forget``), so a
purge left over from before can never delete the chunks of a later parse.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from ragserve.db.engine import transaction
from ragserve.db.models import Document, StoreSync, StoreSyncAction
from ragserve.domain import Validity
from ragserve.store.base import ChunkStore
from ragserve.tokenizer import tokenize_to_text

logger = logging.getLogger("ragserve.ingest")

BATCH = 500
"""Documents applied per transaction (and ids per ``IN`` list)."""


def record(session: Session, document_id: str, *actions: StoreSyncAction) -> None:
    """Commit with the session's transaction that the store must do ``actions`` for the
    document; ``apply`` it after the commit."""
    for action in dict.fromkeys(actions):
        session.add(StoreSync(document_id=document_id, action=action))


def is_pending(session: Session, document_id: str) -> bool:
    """Whether some change to the document's chunks is committed and not yet applied."""
    found = session.scalar(select(StoreSync.id).where(StoreSync.document_id == document_id))
    return found is not None


def apply(sessions: sessionmaker[Session], chunks: ChunkStore, *document_ids: str) -> None:
    """Apply what is pending for the documents, some hundreds per transaction. A store failure
    raises and leaves that transaction's documents pending."""
    ids = list(dict.fromkeys(document_ids))
    for start in range(0, len(ids), BATCH):
        _apply_batch(sessions, chunks, ids[start : start + BATCH])


def _apply_batch(sessions: sessionmaker[Session], chunks: ChunkStore, ids: list[str]) -> None:
    with transaction(sessions) as session:
        # The rows first, in one order for everyone: this orders us with a parse's last task.
        locked = session.scalars(
            select(Document)
            .where(Document.id.in_(ids))
            .order_by(Document.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        documents = {document.id: document for document in locked}
        pending = list(session.scalars(select(StoreSync).where(StoreSync.document_id.in_(ids))))
        actions: dict[str, set[str]] = {}
        for row in pending:
            actions.setdefault(row.document_id, set()).add(row.action)
        for document_id, wanted in actions.items():
            _apply_one(chunks, document_id, documents.get(document_id), wanted)
        if pending:
            session.execute(delete(StoreSync).where(StoreSync.id.in_([r.id for r in pending])))


def _apply_one(
    chunks: ChunkStore, document_id: str, document: Document | None, actions: set[str]
) -> None:
    if document is None or StoreSyncAction.PURGE in actions:
        chunks.delete_document(document_id)
    if document is None:
        return
    if StoreSyncAction.NAME in actions:
        chunks.rename_document(document_id, document.name, tokenize_to_text(document.name))
    if StoreSyncAction.AVAILABILITY in actions:
        chunks.set_available(document_id, document.status == Validity.VALID)
    counted = chunks.counts(document_id=document_id)
    document.chunk_count, document.token_count = counted.chunks, counted.tokens


def apply_all(sessions: sessionmaker[Session], chunks: ChunkStore) -> int:
    """Apply everything pending (the repair after a failure); returns how many documents were
    brought in line. A document whose store write fails again stays pending and is logged."""
    with transaction(sessions) as session:
        document_ids = list(session.scalars(select(StoreSync.document_id).distinct()))
    applied = 0
    for document_id in document_ids:  # one by one: a failing document holds up no other
        try:
            apply(sessions, chunks, document_id)
        except Exception:
            logger.exception("the chunk store change of document %s failed again", document_id)
        else:
            applied += 1
    if document_ids:
        logger.info("applied the pending chunk store changes of %d documents", applied)
    return applied


def forget(session: Session, *document_ids: str) -> None:
    """Drop what is pending for the documents: their chunks were just rewritten from their
    rows, locked in ``session``, or deleted with their dataset, which is what every pending
    action would have done."""
    ids = list(dict.fromkeys(document_ids))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        session.execute(delete(StoreSync).where(StoreSync.document_id.in_(batch)))
