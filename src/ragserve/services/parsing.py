"""Start and stop parsing documents (spec 2.2: POST / DELETE /datasets/{id}/chunks).

Both drop the document's chunks: the purge is committed with the new state of the row and
applied after the commit (``ingest.store_sync``), so a failed commit keeps the chunks the row
counts, and a failed purge is applied again later (or made moot by the parse's own result).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select

from ragserve.db.models import Document, StoreSyncAction
from ragserve.domain import RunState
from ragserve.errors import DataError
from ragserve.ingest import dataset_tasks, store_sync, tasks
from ragserve.runtime import Runtime
from ragserve.services.batch import BatchOutcome, unique_ids
from ragserve.services.documents import visible_dataset
from ragserve.services.tenancy import Caller


def start_parsing(
    runtime: Runtime, caller: Caller, dataset_id: str, document_ids: Sequence[str]
) -> BatchOutcome:
    """Queue a parse of each document; its old chunks go at once, new ones come when done."""
    outcome = BatchOutcome()
    queued: list[str] = []
    with runtime.transaction() as session:
        visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}.")
        if dataset_tasks.unfinished(session, dataset_id, "reembed"):
            raise DataError(
                f"Dataset {dataset_id} is being re-embedded: parse when that is done "
                "(or cancel it)."
            )
        unique = unique_ids(document_ids, "document", outcome)
        documents = {
            document.id: document
            for document in session.scalars(
                select(Document)
                .where(Document.dataset_id == dataset_id, Document.id.in_(unique))
                .with_for_update()  # as workers do: the document's row before its tasks
            )
        }
        for document in documents.values():
            if 0 < document.progress < 1:
                raise DataError("Can't parse document that is currently being processed")
        for document_id in unique:
            if document_id not in documents:
                continue
            store_sync.record(session, document_id, StoreSyncAction.PURGE)
            queued.append(tasks.new_task(session, documents[document_id]).id)
            outcome.succeeded += 1
    try:
        store_sync.apply(runtime.sessions, runtime.chunks, *documents)
    finally:  # the tasks run whatever happened: their result replaces the chunks anyway
        for task_id in queued:
            runtime.queue.submit(task_id)
    _raise_for_missing(unique, documents.keys(), outcome)
    return outcome


def stop_parsing(
    runtime: Runtime, caller: Caller, dataset_id: str, document_ids: Sequence[str]
) -> BatchOutcome:
    """Cancel running parses: the document becomes CANCEL with no chunks."""
    outcome = BatchOutcome()
    stopped: list[str] = []
    with runtime.transaction() as session:
        visible_dataset(session, caller, dataset_id, f"You don't own the dataset {dataset_id}.")
        for document_id in unique_ids(document_ids, "document", outcome):
            document = session.scalars(
                select(Document)
                .where(Document.dataset_id == dataset_id, Document.id == document_id)
                .with_for_update()  # as workers do: the document's row before its tasks
            ).first()
            if document is None:
                raise DataError(f"You don't own the document {document_id}.")
            if document.run != RunState.RUNNING:
                raise DataError("Can't stop parsing document with progress at 0 or 1")
            tasks.cancel_tasks(session, document.id)
            store_sync.record(session, document.id, StoreSyncAction.PURGE)
            document.run, document.progress = RunState.CANCEL, 0.0
            document.chunk_count = document.token_count = 0
            tasks.append_progress(document, "Task was cancelled.")
            stopped.append(document.id)
            outcome.succeeded += 1
    store_sync.apply(runtime.sessions, runtime.chunks, *stopped)
    outcome.raise_if_all_failed()
    return outcome


def _raise_for_missing(
    wanted: Sequence[str], found: Collection[str], outcome: BatchOutcome
) -> None:
    missing = [i for i in wanted if i not in found]
    if missing:
        raise DataError(f"Documents not found: {missing}")
    outcome.raise_if_all_failed()
