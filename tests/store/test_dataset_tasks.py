"""The dataset-wide task lifecycle (claim, lease, finish, expiry) on every metadata backend."""

from __future__ import annotations

from sqlalchemy import Engine, update

from ragserve.db.engine import make_session_factory, transaction
from ragserve.db.models import DatasetTask, Document, TaskStatus
from ragserve.ingest import dataset_tasks
from store.test_ingest_tasks import make_document


def queue(engine: Engine) -> tuple[str, str]:
    """A new RAPTOR task of a new dataset: (dataset id, task id)."""
    document_id = make_document(engine)
    with transaction(make_session_factory(engine)) as session:
        document = session.get(Document, document_id)
        assert document is not None
        task = dataset_tasks.new_task(session, document.tenant_id, document.dataset_id, "raptor")
        assert task.progress_msg.endswith("Task is queued.")
        return document.dataset_id, task.id


def test_claim_is_exclusive_and_the_newest_task_is_the_datasets(engine: Engine) -> None:
    dataset_id, task_id = queue(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        claimed = dataset_tasks.claim(session, task_id, "w1", lease_ms=60_000)
        assert claimed is not None and claimed.attempts == 1 and claimed.begin_at is not None
    with transaction(sessions) as session:
        assert dataset_tasks.claim(session, task_id, "w2", lease_ms=60_000) is None
        assert dataset_tasks.own_running(session, task_id, "w2", 60_000) is None
        task = dataset_tasks.own_running(session, task_id, "w1", 60_000)
        assert task is not None
        dataset_tasks.finish(task, TaskStatus.DONE, "done")
    with transaction(sessions) as session:
        done = dataset_tasks.latest(session, dataset_id, "raptor")
        assert done is not None and (done.id, done.progress) == (task_id, 1.0)
        assert done.finish_at is not None and done.process_duration >= 0
        newer = dataset_tasks.new_task(session, done.tenant_id, dataset_id, "raptor")
        newer.create_time = done.create_time + 1
    with transaction(sessions) as session:
        latest = dataset_tasks.latest(session, dataset_id, "raptor")
        assert latest is not None and latest.id == newer.id
        by_dataset = dataset_tasks.latest_by_dataset(session, [dataset_id])
        assert by_dataset[(dataset_id, "raptor")].id == newer.id
        assert dataset_tasks.latest(session, dataset_id, "graphrag") is None


def test_an_expired_task_is_retried_then_failed(engine: Engine) -> None:
    _dataset_id, task_id = queue(engine)
    sessions = make_session_factory(engine)

    def claim_and_expire(worker: str) -> None:
        with transaction(sessions) as session:
            assert dataset_tasks.claim(session, task_id, worker, lease_ms=60_000) is not None
            session.execute(
                update(DatasetTask).where(DatasetTask.id == task_id).values(lease_expires_at=1)
            )

    claim_and_expire("w1")
    with transaction(sessions) as session:
        assert dataset_tasks.expired_tasks(session, max_attempts=2) == [task_id]
    claim_and_expire("w2")
    with transaction(sessions) as session:
        assert dataset_tasks.expired_tasks(session, max_attempts=2) == []
        task = session.get(DatasetTask, task_id)
        assert task is not None and (task.status, task.progress) == (TaskStatus.FAILED, -1.0)
        assert task.progress_msg.splitlines()[-1].endswith("The worker stopped 2 times.")


def test_cancel_stops_the_unfinished_tasks_of_the_type(engine: Engine) -> None:
    dataset_id, task_id = queue(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        dataset_tasks.cancel(session, dataset_id, "raptor")
    with transaction(sessions) as session:
        assert dataset_tasks.claim(session, task_id, "w1", lease_ms=60_000) is None
        task = session.get(DatasetTask, task_id)
        assert task is not None and task.status == TaskStatus.CANCELLED
