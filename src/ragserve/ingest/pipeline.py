"""Parse one document: fetch -> parse -> chunk -> tokenize -> embed -> index, reporting progress.

Runs in a worker process (or in the server when ``workers = 0``). Cancellation is checked between
stages and embedding batches through the task's lease renewal; the document's chunks are replaced
in one transaction at the end, so a document is never visible half-indexed.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import numpy as np

from ragserve.db.models import Dataset, Document, TaskStatus
from ragserve.errors import RagserveError
from ragserve.ingest import tasks
from ragserve.ingest.chunk_text import embed_for_document, embedding_text, keyword_tokens
from ragserve.ingest.chunkers import ChunkingOptions, chunker_for
from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.ingest.parsers import parse_file
from ragserve.ingest.tokenizer import count_tokens, tokenize_to_text
from ragserve.ingest.types import ParseError
from ragserve.runtime import Runtime
from ragserve.store.base import ChunkRecord, chunk_id

logger = logging.getLogger("ragserve.ingest")

VISUAL_METHODS = frozenset({"picture", "presentation"})


class Cancelled(Exception):
    """The task was cancelled (stop parsing, a newer parse) or taken over by another worker."""


class TaskTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise ``TaskTimeout`` in this thread after ``seconds``; a no-op off the main thread."""
    try:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
    except ValueError:  # not the main thread: no signal-based limit possible
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raise_timeout(_signum: int, _frame: FrameType | None) -> None:
    raise TaskTimeout


class DocumentJob:
    """One claimed task: keeps the lease alive and the document's progress up to date."""

    def __init__(self, runtime: Runtime, claim: tasks.Claim, worker_id: str) -> None:
        self.runtime = runtime
        self.claim = claim
        self.worker_id = worker_id
        self.lease_ms = runtime.settings.task_lease * 1000

    def report(self, progress: float | None, message: str) -> None:
        """Log a step and renew the lease; raises ``Cancelled`` if the task is no longer ours."""
        with self.runtime.transaction() as session:
            if not tasks.renew(session, self.claim.task_id, self.worker_id, self.lease_ms):
                raise Cancelled
            document = session.get(Document, self.claim.document_id)
            if document is None:
                raise Cancelled
            if progress is not None:
                document.progress = progress
            tasks.append_progress(document, message)

    def run(self) -> None:
        started = time.monotonic()
        with self.runtime.read() as session:
            document = session.get(Document, self.claim.document_id)
            dataset = session.get(Dataset, document.dataset_id) if document else None
            if document is None or dataset is None:
                raise Cancelled
        self.report(0.01, "Task has been received.")
        parsed = parse_file(
            self.runtime.blobs.read(document.blob_key),
            suffix=document.suffix,
            pages=_page_ranges(document.parser_config),
            want_page_images=document.chunk_method in VISUAL_METHODS,
        )
        pages = f"{parsed.page_count} pages, " if parsed.page_count else ""
        self.report(0.2, f"Parsing finished: {pages}{len(parsed.blocks)} blocks.")
        options = ChunkingOptions.from_parser_config(document.parser_config, title=document.name)
        drafts = chunker_for(document.chunk_method)(parsed, options, count_tokens)
        self.report(0.3, f"Chunking finished: {len(drafts)} chunks.")
        vectors = self._embed(dataset.embedding_model, document, drafts)
        records = _records(document, drafts, vectors)
        with self.runtime.transaction() as session:
            if not tasks.renew(session, self.claim.task_id, self.worker_id, self.lease_ms):
                raise Cancelled
            self.runtime.chunks.replace_document(document.id, records)
            current = session.get(Document, document.id)
            if current is None:
                raise Cancelled
            current.chunk_count = len(records)
            current.token_count = sum(record.token_count for record in records)
            current.run, current.progress = tasks.RUN_DONE, 1.0
            current.process_duration = round(time.monotonic() - started, 3)
            tasks.append_progress(current, f"Indexing finished: {len(records)} chunks.")
            tasks.append_progress(current, "Task done")
            tasks.finish(session, self.claim.task_id, self.worker_id, TaskStatus.DONE)

    def _embed(self, model_id: str, document: Document, drafts: list[ChunkDraft]) -> np.ndarray:
        model = self.runtime.embedding_model(model_id)
        batch = self.runtime.settings.embedding_batch_size
        parts = []
        for start in range(0, len(drafts), batch):
            texts = [embedding_text(d.content, d.questions) for d in drafts[start : start + batch]]
            parts.append(embed_for_document(model, document.name, document.parser_config, texts))
            done = min(start + batch, len(drafts))
            self.report(0.3 + 0.6 * done / len(drafts), f"Embedded {done}/{len(drafts)} chunks.")
        return np.vstack(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def _records(
    document: Document, drafts: list[ChunkDraft], vectors: np.ndarray
) -> list[ChunkRecord]:
    title_tokens = tokenize_to_text(document.name)
    now = time.time()
    records = []
    for order, draft in enumerate(drafts):
        records.append(
            ChunkRecord(
                id=chunk_id(document.id, draft.content, order),
                tenant_id=document.tenant_id,
                dataset_id=document.dataset_id,
                document_id=document.id,
                document_name=document.name,
                content=draft.content,
                content_tokens=tokenize_to_text(draft.content),
                title_tokens=title_tokens,
                keyword_tokens=keyword_tokens(draft.important_keywords, draft.questions),
                important_keywords=list(draft.important_keywords),
                questions=list(draft.questions),
                positions=[list(position) for position in draft.positions],
                available=document.status == "1",
                token_count=count_tokens(draft.content),
                order=order,
                create_time=now,
                fields=dict(draft.fields),
                vector=vectors[order] if len(vectors) > order else None,
            )
        )
    return records


def _page_ranges(parser_config: dict[str, object]) -> list[tuple[int, int]] | None:
    pages = parser_config.get("pages")
    if not isinstance(pages, list) or not pages:
        return None
    ranges = []
    for item in pages:
        if isinstance(item, list | tuple) and len(item) == 2:
            first, last = item
            if isinstance(first, int) and isinstance(last, int) and 1 <= first <= last:
                ranges.append((first, last))
    return ranges or None


def run_task(runtime: Runtime, task_id: str) -> None:
    """Claim and run one task; every failure ends as a FAIL document with a readable message."""
    worker_id = f"{os.uname().nodename}:{os.getpid()}"
    with runtime.transaction() as session:
        claim = tasks.claim(session, task_id, worker_id, runtime.settings.task_lease * 1000)
    if claim is None:
        return
    job = DocumentJob(runtime, claim, worker_id)
    try:
        with time_limit(runtime.settings.task_timeout):
            job.run()
    except Cancelled:
        logger.info("task %s cancelled", task_id)
    except Exception as error:  # every failure is the document's, never the worker's
        _fail(runtime, claim, worker_id, _describe(error, runtime.settings.task_timeout))
        if not isinstance(error, ParseError | TaskTimeout | RagserveError):
            logger.exception("task %s failed", task_id)


def _describe(error: Exception, timeout: int) -> str:
    if isinstance(error, ParseError):
        return str(error)
    if isinstance(error, RagserveError):  # e.g. the embedding provider refused the key
        return error.message
    if isinstance(error, TaskTimeout):
        return f"Parsing took longer than {timeout} s and was stopped."
    if isinstance(error, MemoryError):
        return "The document needs more memory than a worker may use."
    return f"Internal error while parsing ({type(error).__name__}); see the server log."


def _fail(runtime: Runtime, claim: tasks.Claim, worker_id: str, message: str) -> None:
    with runtime.transaction() as session:
        if not tasks.finish(session, claim.task_id, worker_id, TaskStatus.FAILED):
            return
        document = session.get(Document, claim.document_id)
        if document is not None:
            tasks.fail_document(document, message)


def requeue_expired(runtime: Runtime) -> None:
    """Queue again the tasks whose worker died (their lease ran out); fail those out of tries."""
    with runtime.transaction() as session:
        retry, failed = tasks.expired_tasks(session, runtime.settings.task_attempts)
    for task_id in retry:
        runtime.queue.submit(task_id)
    if retry or failed:
        logger.warning("requeued %d and failed %d abandoned tasks", len(retry), len(failed))
