"""The life of an ingest task in the metadata store: queued, claimed with a lease, renewed while
it runs, finished; a task whose lease ran out (its worker died) is queued again, or failed once it
has used its attempts. The queue only carries task ids; these rows are the truth."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ragserve.db.models import Document, IngestTask, TaskStatus
from ragserve.timeutil import now_ms, utc_now

RUN_UNSTART, RUN_RUNNING, RUN_CANCEL, RUN_DONE, RUN_FAIL = "0", "1", "2", "3", "4"


@dataclass(frozen=True)
class Claim:
    task_id: str
    document_id: str
    attempt: int


def new_task(session: Session, document: Document) -> IngestTask:
    """Queue a parse of ``document``, cancelling any earlier task of it."""
    cancel_tasks(session, document.id)
    task = IngestTask(document_id=document.id)
    session.add(task)
    document.run, document.progress, document.progress_msg = RUN_RUNNING, 0.0, ""
    document.chunk_count = document.token_count = 0
    document.process_begin_at, document.process_duration = utc_now().replace(tzinfo=None), 0.0
    append_progress(document, "Task is queued.")
    session.flush()
    return task


def cancel_tasks(session: Session, document_id: str) -> None:
    session.execute(
        update(IngestTask)
        .where(
            IngestTask.document_id == document_id,
            IngestTask.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]),
        )
        .values(status=TaskStatus.CANCELLED)
    )


def claim(session: Session, task_id: str, worker_id: str, lease_ms: int) -> Claim | None:
    """Take a queued task (or one whose lease expired) for ``worker_id``; ``None`` if it is
    cancelled, finished or held by a live worker."""
    now = now_ms()
    result = session.execute(
        update(IngestTask)
        .where(
            IngestTask.id == task_id,
            (IngestTask.status == TaskStatus.QUEUED)
            | ((IngestTask.status == TaskStatus.RUNNING) & (IngestTask.lease_expires_at < now)),
        )
        .values(
            status=TaskStatus.RUNNING,
            worker_id=worker_id,
            lease_expires_at=now + lease_ms,
            attempts=IngestTask.attempts + 1,
        )
    )
    if _rowcount(result) != 1:
        return None
    task = session.get(IngestTask, task_id)
    assert task is not None
    return Claim(task.id, task.document_id, task.attempts)


def renew(session: Session, task_id: str, worker_id: str, lease_ms: int) -> bool:
    """Extend the lease; ``False`` when the task was cancelled or taken over meanwhile."""
    return _update_own_running(session, task_id, worker_id, lease_expires_at=now_ms() + lease_ms)


def finish(session: Session, task_id: str, worker_id: str, status: TaskStatus) -> bool:
    """Close the task; ``False`` when it no longer belongs to this worker (cancelled or lost)."""
    return _update_own_running(session, task_id, worker_id, status=status)


def _update_own_running(session: Session, task_id: str, worker_id: str, **values: object) -> bool:
    result = session.execute(
        update(IngestTask)
        .where(
            IngestTask.id == task_id,
            IngestTask.worker_id == worker_id,
            IngestTask.status == TaskStatus.RUNNING,
        )
        .values(**values)
    )
    return _rowcount(result) == 1


def expired_tasks(session: Session, max_attempts: int) -> tuple[list[str], list[str]]:
    """Tasks whose worker stopped renewing: (to queue again, failed for good). The failed
    ones are marked failed here, with their documents."""
    now = now_ms()
    stale = session.scalars(
        select(IngestTask).where(
            IngestTask.status == TaskStatus.RUNNING, IngestTask.lease_expires_at < now
        )
    ).all()
    retry, failed = [], []
    for task in stale:
        if task.attempts < max_attempts:
            task.status = TaskStatus.QUEUED
            retry.append(task.id)
            continue
        task.status = TaskStatus.FAILED
        failed.append(task.id)
        document = session.get(Document, task.document_id)
        if document is not None and document.run == RUN_RUNNING:
            fail_document(document, f"The worker stopped {task.attempts} times on this document.")
    session.flush()
    return retry, failed


def _rowcount(result: object) -> int:
    """Rows an UPDATE changed (SQLAlchemy types ``execute`` as returning a plain ``Result``)."""
    return int(getattr(result, "rowcount", 0))


def append_progress(document: Document, message: str) -> None:
    stamp = utc_now().strftime("%H:%M:%S")
    line = f"{stamp} {message}"
    document.progress_msg = f"{document.progress_msg}\n{line}" if document.progress_msg else line


def fail_document(document: Document, message: str) -> None:
    document.run, document.progress = RUN_FAIL, -1.0
    append_progress(document, f"[ERROR] {message}")
