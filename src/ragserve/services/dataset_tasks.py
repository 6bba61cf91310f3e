"""Dataset-wide tasks: queue one (``run_raptor``), show it (``trace_raptor``), run it in a
worker, and queue again those whose worker died. A task runs with a lease like a parse task
(``ingest.dataset_tasks``); renewing it is where a cancelled task stops."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ragserve.db.models import DatasetTask, Document, TaskStatus, Tenant
from ragserve.domain import RunState
from ragserve.errors import DataError, InternalError, RagserveError
from ragserve.ingest import dataset_tasks
from ragserve.runtime import Runtime
from ragserve.schemas.dataset_tasks import DatasetTaskRow, NoTask, ReembedTaskRow
from ragserve.services import (
    dataset_mindmap,
    graphrag,
    ingestion,
    knowledge_graph,
    raptor,
    reembed,
)
from ragserve.services.auto_keywords import model_for
from ragserve.services.dataset_chunks import dataset_records, parsed_documents
from ragserve.services.datasets import visible_dataset
from ragserve.services.models import check_embedding_model
from ragserve.services.tenancy import Caller
from ragserve.timeutil import rfc1123

logger = logging.getLogger("ragserve.ingest")

RAPTOR = "raptor"
GRAPHRAG = "graphrag"
MINDMAP = "mindmap"
REEMBED = "reembed"


@dataclass(frozen=True)
class Kind:
    """What runs a task type, and how its messages name it."""

    label: str
    """In the task's log."""
    running: str
    """In RAGFlow's "A … Task is already running."."""
    build: Callable[[Runtime, str, raptor.Report], list[str]]
    no_model: str


KINDS = {
    RAPTOR: Kind("RAPTOR", "RAPTOR", raptor.build, raptor.NO_MODEL),
    GRAPHRAG: Kind("GraphRAG", "Graph", graphrag.build, graphrag.NO_MODEL),
    MINDMAP: Kind("Mind map", "Mindmap", dataset_mindmap.build, dataset_mindmap.NO_MODEL),
}
RAPTOR_NOT_FOUND = "RAPTOR Task Not Found or Error Occurred"
WRITERS = (RAPTOR, GRAPHRAG)
"""Tasks that write vectors with the dataset's model: none runs beside a re-embedding."""


class Cancelled(Exception):
    """The task was cancelled or taken over by another worker."""


def queue(runtime: Runtime, caller: Caller, dataset_id: str, task_type: str) -> str:
    """Queue a dataset-wide task of ``task_type``; its id."""
    with runtime.transaction() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        _refuse_running(session, dataset.id, task_type, KINDS[task_type].running)
        if task_type in WRITERS:
            _refuse_running(session, dataset.id, REEMBED, "Re-embedding")
        documents = session.scalar(
            select(func.count(Document.id)).where(Document.dataset_id == dataset.id)
        )
        if not documents:
            raise DataError(f"No documents in Dataset {dataset.id}")
        if not model_for(session, runtime.settings, dataset.tenant_id, dataset.parser_config):
            raise DataError(KINDS[task_type].no_model)
        task_id = dataset_tasks.new_task(session, dataset.tenant_id, dataset.id, task_type).id
    runtime.queue.submit_dataset_task(task_id)
    return task_id


def queue_reembed(runtime: Runtime, caller: Caller, dataset_id: str, model: str | None) -> str:
    """Queue a re-embedding of the dataset with ``model`` (default: its tenant's default
    embedding model); its id. Refused while the dataset has parses, a re-embedding, or a RAPTOR
    or GraphRAG build running."""
    with runtime.transaction() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        if not model:
            tenant = session.get(Tenant, dataset.tenant_id)
            model = (tenant.embd_id if tenant else "") or runtime.settings.default_embedding_model
        check_embedding_model(session, runtime.settings, dataset.tenant_id, model)
        for task_type in (REEMBED, *WRITERS):
            running = "Re-embedding" if task_type == REEMBED else KINDS[task_type].running
            _refuse_running(session, dataset.id, task_type, running)
        parsing = session.scalar(
            select(func.count(Document.id)).where(
                Document.dataset_id == dataset.id, Document.run == RunState.RUNNING
            )
        )
        if parsing:
            raise DataError(
                f"{parsing} documents of Dataset {dataset.id} are being parsed: "
                "wait for them (or stop them) before re-embedding."
            )
        task = dataset_tasks.new_task(session, dataset.tenant_id, dataset.id, REEMBED)
        task.target = model
        task_id = task.id
    runtime.queue.submit_dataset_task(task_id)
    return task_id


def _refuse_running(session: Session, dataset_id: str, task_type: str, running: str) -> None:
    previous = dataset_tasks.latest(session, dataset_id, task_type)
    if previous is not None and previous.status in dataset_tasks.UNFINISHED:
        raise DataError(
            f"Task {previous.id} in progress with status {previous.progress}. "
            f"A {running} Task is already running."
        )


def unbind(runtime: Runtime, caller: Caller, dataset_id: str, task_type: str) -> None:
    """Cancel the dataset's unfinished task of the type and delete what it builds: RAPTOR's
    summary chunks, the graph, or the mind map. A worker running it stops at its next lease
    renewal (and removes the summaries it wrote)."""
    with runtime.transaction() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        dataset_tasks.cancel(session, dataset.id, task_type)
        if task_type == GRAPHRAG:
            knowledge_graph.remove_graph(session, dataset.id)
        elif task_type == MINDMAP:
            knowledge_graph.remove_mind_map(session, dataset.id)
        documents = parsed_documents(session, dataset.id)
    if task_type == RAPTOR:
        summaries = [
            record.id for record in dataset_records(runtime, documents) if raptor.is_summary(record)
        ]
        runtime.chunks.delete(summaries)
        with runtime.transaction() as session:
            _recount(runtime, session, dataset.id)


def trace(
    runtime: Runtime, caller: Caller, dataset_id: str, task_type: str
) -> DatasetTaskRow | NoTask:
    """The dataset's newest task of the type as RAGFlow's task row, or ``{}`` when it has none
    (``trace_raptor`` and the like, of ``/api/v1/datasets`` and ``/v1/kb`` alike)."""
    with runtime.read() as session:
        dataset = visible_dataset(session, caller, dataset_id)
        task = dataset_tasks.latest(session, dataset.id, task_type)
        if task is None:
            return NoTask()
        row = ReembedTaskRow if task_type == REEMBED else DatasetTaskRow
        return row(**task_row(task))


def task_row(task: DatasetTask) -> dict[str, Any]:
    extra = {"embedding_model": task.target} if task.task_type == REEMBED else {}
    return extra | {
        "id": task.id,
        "doc_id": "",
        "from_page": 0,
        "to_page": 100000000,
        "task_type": task.task_type,
        "priority": 0,
        "begin_at": rfc1123(task.begin_at),
        "process_duration": round(task.process_duration, 3),
        "progress": task.progress,
        "progress_msg": task.progress_msg,
        "retry_count": max(task.attempts - 1, 0),
        "digest": "",
        "chunk_ids": " ".join(task.chunk_ids or []),
        "create_time": task.create_time,
        "create_date": rfc1123(task.create_date),
        "update_time": task.update_time,
        "update_date": rfc1123(task.update_date),
    }


# --------------------------------------------------------------------------------------------
# in the worker


def run_task(runtime: Runtime, task_id: str) -> None:
    """Claim and run one dataset task; every failure ends as a failed task with a message."""
    worker_id = f"{os.uname().nodename}:{os.getpid()}"
    lease_ms = runtime.settings.task_lease * 1000
    with runtime.transaction() as session:
        task = dataset_tasks.claim(session, task_id, worker_id, lease_ms)
        if task is None:
            return
        dataset_id, task_type, target = task.dataset_id, task.task_type, task.target
    kind = KINDS.get(task_type)
    label = "Re-embedding" if task_type == REEMBED else kind.label if kind else task_type
    last_renewal = [time.monotonic()]

    def report(progress: float | None, message: str | None) -> None:
        if progress is None and message is None and time.monotonic() - last_renewal[0] < 1:
            return
        last_renewal[0] = time.monotonic()
        with runtime.transaction() as session:
            row = dataset_tasks.own_running(session, task_id, worker_id, lease_ms)
            if row is None:
                raise Cancelled
            if progress is not None:
                row.progress = progress
            if message:
                dataset_tasks.append_progress(row, message)

    def claim(session: Session) -> None:
        if dataset_tasks.own_running(session, task_id, worker_id, lease_ms) is None:
            raise Cancelled

    try:
        with ingestion.time_limit(runtime.settings.task_timeout):
            if task_type == REEMBED:
                chunk_ids: list[str] = []
                reembed.build(runtime, dataset_id, target, report, claim)
            elif kind is None:
                raise InternalError(f"unknown dataset task type {task_type!r}")
            else:
                chunk_ids = kind.build(runtime, dataset_id, report)
    except Cancelled:
        logger.info("dataset task %s cancelled", task_id)
        return
    except KeyboardInterrupt:  # the worker is shutting down: give the task back
        _close(runtime, task_id, worker_id, None, "The worker was stopped; queued again.")
        runtime.queue.submit_dataset_task(task_id)
        raise
    except Exception as error:
        if isinstance(error, RagserveError) and not isinstance(error, InternalError):
            message = error.message
        elif isinstance(error, ingestion.TaskTimeout):
            message = f"{label} took longer than {runtime.settings.task_timeout} s and was stopped."
        else:
            logger.exception("dataset task %s failed", task_id)
            message = f"{label} failed: internal error; see the server log."
        _close(runtime, task_id, worker_id, TaskStatus.FAILED, f"[ERROR] {message}")
        return
    _close(
        runtime,
        task_id,
        worker_id,
        TaskStatus.DONE,
        f"{label} done: {len(chunk_ids)} summary chunks." if chunk_ids else f"{label} done.",
        chunk_ids,
    )


def _close(
    runtime: Runtime,
    task_id: str,
    worker_id: str,
    status: TaskStatus | None,
    message: str,
    chunk_ids: list[str] | None = None,
) -> None:
    """Finish the task (``status``), or give it back to the queue (``None``)."""
    with runtime.transaction() as session:
        task = dataset_tasks.own_running(session, task_id, worker_id, 0)
        if task is None:
            return
        if status is None:
            dataset_tasks.release(task)
            dataset_tasks.append_progress(task, message)
            return
        dataset_tasks.finish(task, status, message)
        task.chunk_ids = chunk_ids or []
        _recount(runtime, session, task.dataset_id)


def _recount(runtime: Runtime, session: Session, dataset_id: str) -> None:
    """The documents' chunk and token counts from the store (summaries count as chunks)."""
    documents = session.scalars(select(Document).where(Document.dataset_id == dataset_id))
    for document in documents:
        counts = runtime.chunks.counts(document_id=document.id)
        document.chunk_count, document.token_count = counts.chunks, counts.tokens


def requeue_expired(runtime: Runtime) -> None:
    """The workers' reaper: queue again the parse and dataset tasks whose worker died (their
    lease ran out), fail those out of tries."""
    ingestion.requeue_expired(runtime)
    with runtime.transaction() as session:
        retry = dataset_tasks.expired_tasks(session, runtime.settings.task_attempts)
    for task_id in retry:
        runtime.queue.submit_dataset_task(task_id)
    if retry:
        logger.warning("requeued %d abandoned dataset tasks", len(retry))
