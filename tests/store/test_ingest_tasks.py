"""The ingest task lifecycle (claim, lease, renew, finish, expiry) on every metadata backend."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select, update

from ragserve.db.engine import make_session_factory, transaction
from ragserve.db.models import Dataset, Document, IngestTask, TaskStatus
from ragserve.domain import RunState
from ragserve.ingest import tasks
from ragserve.services import users
from ragserve.services.users import TenantDefaults


def make_document(engine: Engine) -> str:
    with transaction(make_session_factory(engine)) as session:
        user = users.create_account(
            session, email="t@example.com", nickname="t", password="pw", defaults=TenantDefaults()
        )
        dataset = Dataset(
            tenant_id=user.id, name="d", name_key="d", embedding_model="m@Builtin",
            created_by=user.id,
        )  # fmt: skip
        session.add(dataset)
        session.flush()
        document = Document(
            dataset_id=dataset.id, tenant_id=user.id, name="a.txt", type="doc",
            created_by=user.id, chunk_method="naive",
        )  # fmt: skip
        session.add(document)
        session.flush()
        return document.id


def queue(engine: Engine, document_id: str) -> str:
    with transaction(make_session_factory(engine)) as session:
        document = session.get(Document, document_id)
        assert document is not None
        task = tasks.new_task(session, document)
        assert (document.run, document.progress) == (RunState.RUNNING, 0.0)
        assert document.progress_msg.endswith("Task is queued.")
        return task.id


def test_claim_is_exclusive_and_renewable(engine: Engine) -> None:
    task_id = queue(engine, make_document(engine))
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        claim = tasks.claim(session, task_id, "w1", lease_ms=60_000)
        assert claim is not None and claim.attempt == 1
    with transaction(sessions) as session:
        assert tasks.claim(session, task_id, "w2", lease_ms=60_000) is None
        assert tasks.renew(session, task_id, "w1", 60_000)
        assert not tasks.renew(session, task_id, "w2", 60_000)
        assert tasks.finish(session, task_id, "w1", TaskStatus.DONE)
    with transaction(sessions) as session:
        assert tasks.claim(session, task_id, "w2", lease_ms=60_000) is None
        assert not tasks.renew(session, task_id, "w1", 60_000)


def test_a_new_parse_cancels_the_old_task(engine: Engine) -> None:
    document_id = make_document(engine)
    first = queue(engine, document_id)
    with transaction(make_session_factory(engine)) as session:
        assert tasks.claim(session, first, "w1", 60_000) is not None
    second = queue(engine, document_id)
    with transaction(make_session_factory(engine)) as session:
        assert not tasks.renew(session, first, "w1", 60_000)  # the old worker learns it stopped
        assert session.get(IngestTask, first).status == TaskStatus.CANCELLED  # type: ignore[union-attr]
        assert tasks.claim(session, second, "w2", 60_000) is not None


def test_expired_leases_are_retried_then_failed(engine: Engine) -> None:
    document_id = make_document(engine)
    task_id = queue(engine, document_id)
    sessions = make_session_factory(engine)
    for attempt in (1, 2):
        with transaction(sessions) as session:
            claim = tasks.claim(session, task_id, f"w{attempt}", lease_ms=1)
            assert claim is not None and claim.attempt == attempt
        time.sleep(0.01)
        with transaction(sessions) as session:
            retry, failed = tasks.expired_tasks(session, max_attempts=2)
        if attempt == 1:
            assert (retry, failed) == ([task_id], [])
        else:
            assert (retry, failed) == ([], [task_id])
    with transaction(sessions) as session:
        document = session.get(Document, document_id)
        assert document is not None
        assert (document.run, document.progress) == (RunState.FAIL, -1.0)
        assert "[ERROR] The worker stopped 2 times on this document." in document.progress_msg


def test_a_live_lease_is_not_reaped(engine: Engine) -> None:
    task_id = queue(engine, make_document(engine))
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        assert tasks.claim(session, task_id, "w1", lease_ms=60_000) is not None
    with transaction(sessions) as session:
        assert tasks.expired_tasks(session, max_attempts=3) == ([], [])
        session.execute(update(IngestTask).values(lease_expires_at=0))
    with transaction(sessions) as session:
        assert tasks.expired_tasks(session, max_attempts=3) == ([task_id], [])


def test_a_split_parse_stages_ranges_and_fails_together(engine: Engine) -> None:
    document_id = make_document(engine)
    first = queue(engine, document_id)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        claim = tasks.claim(session, first, "w1", 60_000)
        assert claim is not None and claim.pages is None and claim.parse_id == first
        others = tasks.split(session, claim, "w1", [(1, 12), (13, 24), (25, 30)])
        assert others is not None and len(others) == 2
        assert tasks.split(session, claim, "w2", [(1, 2), (3, 4)]) is None  # not w2's task
    staged = bytes(range(256)) * 1024  # 256 KiB: more than a MariaDB BLOB holds
    with transaction(sessions) as session:
        second = tasks.claim(session, others[0], "w2", 60_000)
        assert second is not None and second.pages == (13, 24) and second.parse_id == first
        assert tasks.renew(session, first, "w1", 60_000, progress=0.5)
        assert tasks.finish(session, others[0], "w2", TaskStatus.DONE, result=staged)
        assert tasks.parse_progress(session, first) == (0.5 + 1.0 + 0.0) / 3
    with transaction(sessions) as session:
        assert tasks.lock_document(session, document_id) is not None
        siblings = sorted(tasks.siblings(session, first, first), key=lambda s: s.from_page)
        assert siblings == [
            tasks.Sibling(TaskStatus.DONE, 13, 24, staged),
            tasks.Sibling(TaskStatus.QUEUED, 25, 30, None),
        ]
        assert tasks.queued_tasks(session, first) == [others[1]]
    with transaction(sessions) as session:  # the worker of pages 1-12 dies, out of attempts
        session.execute(update(IngestTask).where(IngestTask.id == first).values(lease_expires_at=0))
        assert tasks.expired_tasks(session, max_attempts=1) == ([], [first])
    with transaction(sessions) as session:
        document = session.get(Document, document_id)
        assert document is not None and document.run == RunState.FAIL
        assert document.progress_msg.endswith(
            "[ERROR] The worker stopped 1 times on pages 1-12 of this document."
        )
        rows = {row.id: (row.status, row.result) for row in session.scalars(select(IngestTask))}
        assert rows == {
            first: (TaskStatus.FAILED, None),
            others[0]: (TaskStatus.DONE, None),  # its staged chunks are dropped
            others[1]: (TaskStatus.CANCELLED, None),
        }


def test_a_new_parse_drops_what_the_old_one_staged(engine: Engine) -> None:
    document_id = make_document(engine)
    first = queue(engine, document_id)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        claim = tasks.claim(session, first, "w1", 60_000)
        assert claim is not None
        [other] = tasks.split(session, claim, "w1", [(1, 2), (3, 4)]) or []
        assert tasks.finish(session, first, "w1", TaskStatus.DONE, result=b"pages 1-2")
    second = queue(engine, document_id)
    with transaction(sessions) as session:
        rows = {row.id: (row.status, row.result) for row in session.scalars(select(IngestTask))}
    assert rows == {
        first: (TaskStatus.DONE, None),
        other: (TaskStatus.CANCELLED, None),
        second: (TaskStatus.QUEUED, None),
    }
