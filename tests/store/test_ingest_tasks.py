"""The ingest task lifecycle (claim, lease, renew, finish, expiry) on every metadata backend."""

from __future__ import annotations

import time

from sqlalchemy import Engine, update

from ragserve.db.engine import make_session_factory, transaction
from ragserve.db.models import Dataset, Document, IngestTask, TaskStatus
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
        assert (document.run, document.progress) == (tasks.RUN_RUNNING, 0.0)
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
        assert (document.run, document.progress) == (tasks.RUN_FAIL, -1.0)
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
