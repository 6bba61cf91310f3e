"""The life of an ingest task in the metadata store: queued, claimed with a lease, renewed while
it runs, finished; a task whose lease ran out (its worker died) is queued again, or failed once it
has used its attempts. The queue only carries task ids; these rows are the truth.

A parse is one task, or several page-range tasks sharing a ``parse_id`` (see ``split``). Every
transaction that changes the tasks of a document locks the document's row first
(``lock_document``), so finishing, failing, cancelling and reaping the tasks of one document
happen one after the other, and always take their locks in the same order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ragserve.db.models import Document, IngestTask, TaskStatus
from ragserve.domain import RunState
from ragserve.ingest import progress_log
from ragserve.timeutil import new_id, now_ms, utc_now


@dataclass(frozen=True)
class Claim:
    task_id: str
    document_id: str
    attempt: int
    parse_id: str
    pages: tuple[int, int] | None
    """The task's page range; ``None`` for the whole document (a parse not split, or not yet)."""


@dataclass(frozen=True)
class Sibling:
    """Another task of the same parse, as its finishing sibling sees it."""

    status: str
    from_page: int
    to_page: int
    result: bytes | None


def new_task(session: Session, document: Document) -> IngestTask:
    """Queue a parse of ``document``, cancelling any earlier task of it."""
    cancel_tasks(session, document.id)
    task = IngestTask(id=new_id(), document_id=document.id)
    task.parse_id = task.id
    session.add(task)
    document.run, document.progress, document.progress_msg = RunState.RUNNING, 0.0, ""
    document.chunk_count = document.token_count = 0
    document.process_begin_at, document.process_duration = utc_now().replace(tzinfo=None), 0.0
    append_progress(document, "Task is queued.")
    session.flush()
    return task


def cancel_tasks(session: Session, document_id: str) -> None:
    """Cancel the document's unfinished tasks and drop every chunk its tasks staged."""
    session.execute(
        update(IngestTask)
        .where(
            IngestTask.document_id == document_id,
            IngestTask.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]),
        )
        .values(status=TaskStatus.CANCELLED)
    )
    session.execute(
        update(IngestTask)
        .where(IngestTask.document_id == document_id, IngestTask.result.is_not(None))
        .values(result=None)
    )


def lock_document(session: Session, document_id: str) -> Document | None:
    """The document, its row locked until the transaction ends (SQLite: writers take turns)."""
    return session.get(Document, document_id, with_for_update=True, populate_existing=True)


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
    task = session.get(IngestTask, task_id, populate_existing=True)
    assert task is not None
    pages = (task.from_page, task.to_page) if task.from_page else None
    return Claim(task.id, task.document_id, task.attempts, task.parse_id, pages)


def renew(
    session: Session,
    task_id: str,
    worker_id: str,
    lease_ms: int,
    *,
    progress: float | None = None,
) -> bool:
    """Extend the lease (and record the task's progress); ``False`` when the task was cancelled
    or taken over meanwhile."""
    values: dict[str, object] = {"lease_expires_at": now_ms() + lease_ms}
    if progress is not None:
        values["progress"] = progress
    return _update_own_running(session, task_id, worker_id, **values)


def finish(
    session: Session,
    task_id: str,
    worker_id: str,
    status: TaskStatus,
    *,
    result: bytes | None = None,
) -> bool:
    """Close the task, keeping ``result`` (the chunks it staged); ``False`` when it no longer
    belongs to this worker (cancelled or lost)."""
    values: dict[str, object] = {"status": status, "result": result}
    if status == TaskStatus.DONE:
        values["progress"] = 1.0
    return _update_own_running(session, task_id, worker_id, **values)


def release(session: Session, task_id: str, worker_id: str) -> bool:
    """Give a running task back to the queue, as it was before this worker claimed it (its
    worker is shutting down: the try is not counted); ``False`` when it is no longer ours."""
    return _update_own_running(
        session,
        task_id,
        worker_id,
        status=TaskStatus.QUEUED,
        worker_id="",
        lease_expires_at=0,
        attempts=IngestTask.attempts - 1,
        progress=0.0,
    )


def split(
    session: Session, claim: Claim, worker_id: str, ranges: Sequence[tuple[int, int]]
) -> list[str] | None:
    """Make the claimed whole-document task the first of ``ranges`` and add a queued task of the
    same parse for each other range; their ids, or ``None`` when the task is no longer ours."""
    (first, last), *others = ranges
    if not _update_own_running(session, claim.task_id, worker_id, from_page=first, to_page=last):
        return None
    siblings = [
        IngestTask(
            id=new_id(),
            document_id=claim.document_id,
            parse_id=claim.parse_id,
            from_page=low,
            to_page=high,
        )
        for low, high in others
    ]
    session.add_all(siblings)
    session.flush()
    return [task.id for task in siblings]


def siblings(session: Session, parse_id: str, task_id: str) -> list[Sibling]:
    """The other tasks of the parse, with the chunks they staged, locked."""
    rows = session.execute(
        select(IngestTask.status, IngestTask.from_page, IngestTask.to_page, IngestTask.result)
        .where(IngestTask.parse_id == parse_id, IngestTask.id != task_id)
        .with_for_update()
    ).all()
    return [Sibling(*row) for row in rows]


def queued_tasks(session: Session, parse_id: str) -> list[str]:
    """The parse's tasks still waiting for a worker."""
    return list(
        session.scalars(
            select(IngestTask.id).where(
                IngestTask.parse_id == parse_id, IngestTask.status == TaskStatus.QUEUED
            )
        )
    )


def parse_progress(session: Session, parse_id: str) -> float:
    """The progress of a parse: the mean of its tasks' progress."""
    mean = session.scalar(
        select(func.avg(IngestTask.progress)).where(IngestTask.parse_id == parse_id)
    )
    return float(mean or 0.0)


def drop_staged(session: Session, parse_id: str) -> None:
    session.execute(
        update(IngestTask)
        .where(IngestTask.parse_id == parse_id, IngestTask.result.is_not(None))
        .values(result=None)
    )


def _update_own_running(
    session: Session, task_id: str, worker_id: str, /, **values: object
) -> bool:
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
    ones are marked failed here, with their documents (and the other tasks of their parse)."""
    now = now_ms()
    stale = session.execute(
        select(IngestTask.id, IngestTask.document_id)
        .where(IngestTask.status == TaskStatus.RUNNING, IngestTask.lease_expires_at < now)
        .order_by(IngestTask.document_id, IngestTask.id)
    ).all()
    retry, failed = [], []
    for task_id, document_id in stale:
        document = lock_document(session, document_id)
        task = session.get(IngestTask, task_id, with_for_update=True, populate_existing=True)
        if task is None or task.status != TaskStatus.RUNNING or task.lease_expires_at >= now:
            continue  # finished, cancelled or renewed meanwhile
        if task.attempts < max_attempts:
            task.status = TaskStatus.QUEUED
            retry.append(task.id)
            continue
        task.status = TaskStatus.FAILED
        failed.append(task.id)
        session.flush()
        if document is not None and document.run == RunState.RUNNING:
            where = f"pages {task.from_page}-{task.to_page} of " if task.from_page else ""
            fail_parse(
                session,
                document,
                f"The worker stopped {task.attempts} times on {where}this document.",
            )
    session.flush()
    return retry, failed


def _rowcount(result: object) -> int:
    """Rows an UPDATE changed (SQLAlchemy types ``execute`` as returning a plain ``Result``)."""
    return int(getattr(result, "rowcount", 0))


def append_progress(document: Document, message: str, *, updates: str | None = None) -> None:
    """Add a line to the document's log, which keeps its first and last lines (``progress_log``);
    ``updates`` replaces the last line when it is the same step's (``progress_log.append_line``)."""
    stamp = utc_now().strftime("%H:%M:%S")
    document.progress_msg = progress_log.append_line(
        document.progress_msg or "", f"{stamp} {message}", updates=updates
    )


def fail_document(document: Document, message: str) -> None:
    document.run, document.progress = RunState.FAIL, -1.0
    append_progress(document, f"[ERROR] {message}")


def fail_parse(session: Session, document: Document, message: str) -> None:
    """Fail the document and cancel the other tasks of its parse."""
    cancel_tasks(session, document.id)
    fail_document(document, message)
