"""The life of a dataset-wide task (RAPTOR, GraphRAG, mind map) in the metadata store: queued,
claimed with a lease, renewed while it runs, finished; one whose lease ran out (its worker died)
is queued again, or failed once it has used its attempts. As with ``ingest.tasks``, the queue
carries only task ids and these rows are the truth."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ragserve.db.models import DatasetTask, TaskStatus
from ragserve.ingest import progress_log
from ragserve.timeutil import now_ms, utc_now

UNFINISHED = (TaskStatus.QUEUED, TaskStatus.RUNNING)


def latest(session: Session, dataset_id: str, task_type: str) -> DatasetTask | None:
    """The dataset's newest task of this type."""
    return session.scalars(
        select(DatasetTask)
        .where(DatasetTask.dataset_id == dataset_id, DatasetTask.task_type == task_type)
        .order_by(DatasetTask.create_time.desc(), DatasetTask.id.desc())
        .limit(1)
    ).first()


def unfinished(session: Session, dataset_id: str, task_type: str) -> bool:
    """Whether the dataset has a task of this type queued or running."""
    task = latest(session, dataset_id, task_type)
    return task is not None and task.status in UNFINISHED


def latest_by_dataset(
    session: Session, dataset_ids: list[str]
) -> dict[tuple[str, str], DatasetTask]:
    """The newest task of each (dataset, type) among these datasets."""
    if not dataset_ids:
        return {}
    rows = session.scalars(
        select(DatasetTask)
        .where(DatasetTask.dataset_id.in_(dataset_ids))
        .order_by(DatasetTask.create_time, DatasetTask.id)
    )
    return {(row.dataset_id, row.task_type): row for row in rows}


def new_task(session: Session, tenant_id: str, dataset_id: str, task_type: str) -> DatasetTask:
    task = DatasetTask(tenant_id=tenant_id, dataset_id=dataset_id, task_type=task_type)
    session.add(task)
    append_progress(task, "Task is queued.")
    session.flush()
    return task


def claim(session: Session, task_id: str, worker_id: str, lease_ms: int) -> DatasetTask | None:
    """Take a queued task (or one whose lease expired); ``None`` if it is cancelled, finished
    or held by a live worker."""
    now = now_ms()
    result = session.execute(
        update(DatasetTask)
        .where(
            DatasetTask.id == task_id,
            (DatasetTask.status == TaskStatus.QUEUED)
            | ((DatasetTask.status == TaskStatus.RUNNING) & (DatasetTask.lease_expires_at < now)),
        )
        .values(
            status=TaskStatus.RUNNING,
            worker_id=worker_id,
            lease_expires_at=now + lease_ms,
            attempts=DatasetTask.attempts + 1,
        )
    )
    if int(getattr(result, "rowcount", 0)) != 1:
        return None
    task = session.get(DatasetTask, task_id, populate_existing=True)
    assert task is not None
    if task.begin_at is None:
        task.begin_at = utc_now().replace(tzinfo=None)
    return task


def own_running(
    session: Session, task_id: str, worker_id: str, lease_ms: int
) -> DatasetTask | None:
    """The task, its lease renewed, while it is still this worker's; else ``None`` (it was
    cancelled or taken over)."""
    task = session.get(DatasetTask, task_id, with_for_update=True, populate_existing=True)
    if task is None or task.status != TaskStatus.RUNNING or task.worker_id != worker_id:
        return None
    task.lease_expires_at = now_ms() + lease_ms
    return task


def finish(task: DatasetTask, status: TaskStatus, message: str) -> None:
    task.status = status
    task.progress = 1.0 if status == TaskStatus.DONE else -1.0
    task.finish_at = utc_now().replace(tzinfo=None)
    if task.begin_at is not None:
        task.process_duration = (task.finish_at - task.begin_at).total_seconds()
    append_progress(task, message)


def release(task: DatasetTask) -> None:
    """Give the task back to the queue, as before this worker claimed it (a shutdown)."""
    task.status, task.worker_id, task.lease_expires_at = TaskStatus.QUEUED, "", 0
    task.attempts -= 1


def cancel(session: Session, dataset_id: str, task_type: str) -> None:
    session.execute(
        update(DatasetTask)
        .where(
            DatasetTask.dataset_id == dataset_id,
            DatasetTask.task_type == task_type,
            DatasetTask.status.in_(UNFINISHED),
        )
        .values(status=TaskStatus.CANCELLED, progress=-1.0)
    )


def expired_tasks(session: Session, max_attempts: int) -> list[str]:
    """Tasks whose worker stopped renewing: queued again (their ids returned), or failed once
    they have used their attempts."""
    stale = session.scalars(
        select(DatasetTask)
        .where(DatasetTask.status == TaskStatus.RUNNING, DatasetTask.lease_expires_at < now_ms())
        .with_for_update()
    ).all()
    retry = []
    for task in stale:
        if task.attempts < max_attempts:
            task.status = TaskStatus.QUEUED
            retry.append(task.id)
        else:
            finish(task, TaskStatus.FAILED, f"[ERROR] The worker stopped {task.attempts} times.")
    session.flush()
    return retry


def append_progress(task: DatasetTask, message: str) -> None:
    stamp = utc_now().strftime("%H:%M:%S")
    task.progress_msg = progress_log.append_line(task.progress_msg or "", f"{stamp} {message}")
