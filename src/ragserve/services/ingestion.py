"""Parse one document: fetch -> parse -> chunk -> tokenize -> embed -> index, reporting progress.

Runs in a worker process (or in the server when ``workers = 0``). A long PDF is split by its first
task into page-range tasks (``ingest.splitting``) that run in parallel; each parses, chunks and
embeds its pages and stages the result on its task row (``ingest.staging``). The task that
finishes last, decided under the document's row lock, replaces the document's chunks with every
range's chunks in page order in one ``replace_document`` call, so a document is never visible
half-indexed. Cancellation is checked between stages and embedding batches through the task's
lease renewal.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import ParamSpec, TypeVar

from ragserve.db.models import Dataset, Document, TaskStatus
from ragserve.domain import ChunkMethod, RunState, Validity
from ragserve.errors import InternalError, RagserveError
from ragserve.ingest import embedding_pipeline, isolation, splitting, staging, store_sync, tasks
from ragserve.ingest.chunk_text import DEFAULT_TITLE_WEIGHT, embedding_text, keyword_tokens
from ragserve.ingest.chunkers import ChunkingOptions, chunker_for
from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.ingest.embedding_pipeline import BackgroundEmbedding, BatchDone
from ragserve.ingest.isolation import caused_by_memory
from ragserve.ingest.parsers import parse_file, preload
from ragserve.ingest.types import ParseError
from ragserve.runtime import Runtime
from ragserve.services import auto_keywords, tags, toc
from ragserve.store.base import ChunkRecord, chunk_id
from ragserve.tokenizer import count_tokens, tokenize_to_text

logger = logging.getLogger("ragserve.ingest")

P = ParamSpec("P")
T = TypeVar("T")

VISUAL_METHODS = frozenset({ChunkMethod.PICTURE, ChunkMethod.PRESENTATION})


class Cancelled(Exception):
    """The task was cancelled (stop parsing, a newer parse) or taken over by another worker."""


class TaskTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise ``TaskTimeout`` in this thread after ``seconds``; a no-op off the main thread.

    Limits nest (a task that queues its page ranges with ``workers = 0`` runs them inside its
    own run): an outer limit is armed again, with the time it had left, on the way out.
    """
    try:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
    except ValueError:  # not the main thread: no signal-based limit possible
        armed = False
    else:
        armed = True
    if not armed:  # (outside the handler, so the body's errors are not chained to this one)
        yield
        return
    outer, _interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def _raise_timeout(_signum: int, _frame: FrameType | None) -> None:
    raise TaskTimeout


class DocumentJob:
    """One claimed task: keeps the lease alive and the document's progress up to date."""

    def __init__(
        self, runtime: Runtime, claim: tasks.Claim, worker_id: str, *, isolate: bool = False
    ) -> None:
        self.runtime = runtime
        self.isolate = isolate
        self.claim = claim
        self.worker_id = worker_id
        self.lease_ms = runtime.settings.task_lease * 1000
        self.pages = claim.pages
        self.started = time.monotonic()
        self.embedded_with: str | None = None
        """The embedding model of this task's vectors."""

    @property
    def label(self) -> str:
        """What the progress lines of a page-range task start with."""
        return f"Pages {self.pages[0]}-{self.pages[1]}: " if self.pages else ""

    def report(
        self, progress: float | None, message: str | None, *, updates: str | None = None
    ) -> None:
        """Log a step (when ``message``; ``updates`` names a running count whose last line it
        replaces) and renew the lease; raises ``Cancelled`` if the task is no longer ours."""
        with self.runtime.transaction() as session:
            document = tasks.lock_document(session, self.claim.document_id)
            if document is None or not tasks.renew(
                session, self.claim.task_id, self.worker_id, self.lease_ms, progress=progress
            ):
                raise Cancelled
            if progress is not None:
                document.progress = tasks.parse_progress(session, self.claim.parse_id)
            if message is not None:
                step = None if updates is None else self.label + updates
                tasks.append_progress(document, self.label + message, updates=step)

    def _step(self, message: str | None) -> None:
        """What an LLM step reports between its calls: a line, or only the lease renewed."""
        self.report(None, message)

    def run(self) -> None:
        with self.runtime.read() as session:
            document = session.get(Document, self.claim.document_id)
            dataset = session.get(Dataset, document.dataset_id) if document else None
            if document is None or dataset is None:
                raise Cancelled
        self.report(0.01, "Task has been received.")
        if self.claim.attempt > 1:
            self._queue_again()
        data = self.runtime.blobs.read(document.blob_key)
        if self.isolate:
            preload(document.suffix)
        if self.pages is None and splitting.splittable(document.suffix, document.chunk_method):
            self._split(data, document.parser_config)
        parsed = self._call(
            parse_file,
            data,
            suffix=document.suffix,
            pages=[self.pages] if self.pages else splitting.selected_pages(document.parser_config),
            want_page_images=document.chunk_method in VISUAL_METHODS,
        )
        del data
        pages = f"{parsed.page_count} pages, " if parsed.page_count else ""
        self.report(0.2, f"Parsing finished: {pages}{len(parsed.blocks)} blocks.")
        options = ChunkingOptions.from_parser_config(document.parser_config, title=document.name)
        drafts = chunker_for(document.chunk_method)(parsed, options, count_tokens)
        del parsed
        self.report(0.3, f"Chunking finished: {len(drafts)} chunks.")
        if toc.wanted(document.parser_config):  # the model reads the chunks' headings
            self.report(None, toc.add_toc(self.runtime, document, drafts))
        if auto_keywords.wanted(document.parser_config):  # the model writes per chunk
            self.report(None, auto_keywords.enrich(self.runtime, document, drafts, self._step))
        tag_sets = tags.TagSets.of(document.tenant_id, document.parser_config)
        if tag_sets is not None:  # the tag sets' examples tag each chunk
            self.report(None, tags.tag_drafts(self.runtime, tag_sets, drafts))
        self._finish(self._embed(dataset, document, drafts))

    def _call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a step that reads the file: in a child process when ``isolate`` (a worker), so
        that native code dying on the file fails the document, not the worker."""
        if not self.isolate:
            return function(*args, **kwargs)
        return isolation.call_in_child(function, *args, **kwargs)

    def _split(self, data: bytes, parser_config: dict[str, object]) -> None:
        """Split this whole-PDF task into page-range tasks when the PDF is long; this task
        keeps the first range, the others are queued."""
        page_count = self._call(splitting.pdf_page_count, data)
        if page_count is None:
            return
        size = splitting.task_page_size(parser_config, self.runtime.settings.task_page_size)
        ranges = splitting.plan(page_count, splitting.selected_pages(parser_config), size)
        if ranges is None:
            return
        with self.runtime.transaction() as session:
            document = tasks.lock_document(session, self.claim.document_id)
            others = tasks.split(session, self.claim, self.worker_id, ranges) if document else None
            if document is None or others is None:
                raise Cancelled
            tasks.append_progress(
                document, f"Split into {len(ranges)} tasks of up to {size} pages."
            )
        self.pages = ranges[0]
        for task_id in others:
            self.runtime.queue.submit(task_id)

    def _queue_again(self) -> None:
        """Queue the parse's waiting tasks again: a worker that died right after splitting may
        not have queued them (a task queued twice still runs once)."""
        with self.runtime.read() as session:
            waiting = tasks.queued_tasks(session, self.claim.parse_id)
        for task_id in waiting:
            self.runtime.queue.submit(task_id)

    def _embed(
        self, dataset: Dataset, document: Document, drafts: list[ChunkDraft]
    ) -> staging.Part:
        """The chunks staged with their vectors. Embedding runs in a thread of its own
        (``embedding_pipeline``) while this one tokenizes the chunks for full-text search and
        reports each finished batch (renewing the lease; a cancel raises ``Cancelled`` here)."""
        model = self.runtime.embedding_model(dataset.embedding_model, dataset.tenant_id)
        self.embedded_with = dataset.embedding_model
        config = document.parser_config
        weight = float(config.get("filename_embd_weight") or DEFAULT_TITLE_WEIGHT)
        texts = [embedding_text(draft.content, draft.questions) for draft in drafts]
        with BackgroundEmbedding(
            model,
            texts,
            title=document.name,
            title_weight=weight,
            batch_size=self.runtime.settings.embedding_batch_size,
        ) as embedding:
            staged = embedding.alongside(drafts, staged_chunk, self._embedded)
            return staging.Part(staged, embedding.result())

    def _embedded(self, batch: BatchDone) -> None:
        self.report(
            0.3 + 0.6 * batch.done / batch.total,
            f"Embedded {batch.done}/{batch.total} chunks.",
            updates="Embedded ",
        )

    def _finish(self, part: staging.Part) -> None:
        """Stage this task's chunks or, when every other task of the parse is done, replace the
        document's chunks with all of them in page order and mark the document done."""
        elapsed = time.monotonic() - self.started
        with self.runtime.transaction() as session:
            document = tasks.lock_document(session, self.claim.document_id)
            others = tasks.siblings(session, self.claim.parse_id, self.claim.task_id)
            last = all(other.status == TaskStatus.DONE for other in others)
            result = None if last else staging.encode(part)
            if document is None or not tasks.finish(
                session, self.claim.task_id, self.worker_id, TaskStatus.DONE, result=result
            ):
                raise Cancelled
            document.process_duration = round(document.process_duration + elapsed, 3)
            if last:
                _check_model(session.get(Dataset, document.dataset_id), self.embedded_with)
            if not last:
                document.progress = tasks.parse_progress(session, self.claim.parse_id)
                tasks.append_progress(document, f"{self.label}Done: {len(part.chunks)} chunks.")
                return
            parts = [(other.from_page, _staged_part(other)) for other in others]
            parts.append((self.pages[0] if self.pages else 0, part))
            records = _records(document, [part for _page, part in sorted(parts, key=_first)])
            self.runtime.chunks.replace_document(document.id, records)
            store_sync.forget(session, document.id)  # the chunks now follow the locked row
            tasks.drop_staged(session, self.claim.parse_id)
            document.chunk_count = len(records)
            document.token_count = sum(record.token_count for record in records)
            document.run, document.progress = RunState.DONE, 1.0
            tasks.append_progress(document, f"Indexing finished: {len(records)} chunks.")
            tasks.append_progress(document, "Task done")


class ModelChanged(RagserveError):
    """The dataset was re-embedded with another model while the document was parsed."""


def _check_model(dataset: Dataset | None, embedded_with: str | None) -> None:
    """Raise ModelChanged if the chunks' vectors are not of the dataset's model (a re-embedding
    switched it meanwhile): they would not be found, or not fit the dataset's dimension."""
    if dataset is not None and embedded_with and dataset.embedding_model != embedded_with:
        raise ModelChanged(
            f"The dataset's embedding model changed to {dataset.embedding_model} while the "
            f"document was embedded with {embedded_with}: parse it again."
        )


def _first(item: tuple[int, staging.Part]) -> int:
    return item[0]


def _staged_part(sibling: tasks.Sibling) -> staging.Part:
    if sibling.result is None:
        raise RuntimeError(f"the chunks of pages {sibling.from_page}-{sibling.to_page} are lost")
    return staging.decode(sibling.result)


def staged_chunk(draft: ChunkDraft) -> staging.StagedChunk:
    """A chunk as it is stored: its full-text tokens computed (what runs beside embedding)."""
    return staging.StagedChunk(
        content=draft.content,
        content_tokens=tokenize_to_text(draft.content),
        keyword_tokens=keyword_tokens(draft.important_keywords, draft.questions),
        token_count=count_tokens(draft.content),
        important_keywords=list(draft.important_keywords),
        questions=list(draft.questions),
        positions=[list(position) for position in draft.positions],
        fields=dict(draft.fields),
    )


def _records(document: Document, parts: list[staging.Part]) -> list[ChunkRecord]:
    """The chunks of every part, numbered in order."""
    title_tokens = tokenize_to_text(document.name)
    now = time.time()
    records: list[ChunkRecord] = []
    for part in parts:
        for index, chunk in enumerate(part.chunks):
            order = len(records)
            records.append(
                ChunkRecord(
                    id=chunk_id(document.id, chunk.content, order),
                    tenant_id=document.tenant_id,
                    dataset_id=document.dataset_id,
                    document_id=document.id,
                    document_name=document.name,
                    content=chunk.content,
                    content_tokens=chunk.content_tokens,
                    title_tokens=title_tokens,
                    keyword_tokens=chunk.keyword_tokens,
                    important_keywords=chunk.important_keywords,
                    questions=chunk.questions,
                    positions=chunk.positions,
                    available=document.status == Validity.VALID,
                    token_count=chunk.token_count,
                    order=order,
                    create_time=now,
                    fields=chunk.fields,
                    vector=part.vector(index),
                )
            )
    return records


def run_task(runtime: Runtime, task_id: str, *, isolate: bool = False) -> None:
    """Claim and run one task; every failure ends as a FAIL document with a readable message.

    ``isolate`` (worker processes) reads the file in a child process (``ingest.isolation``)."""
    worker_id = f"{os.uname().nodename}:{os.getpid()}"
    with runtime.transaction() as session:
        claim = tasks.claim(session, task_id, worker_id, runtime.settings.task_lease * 1000)
    if claim is None:
        return
    job = DocumentJob(runtime, claim, worker_id, isolate=isolate)
    message = None
    try:
        with time_limit(runtime.settings.task_timeout):
            job.run()
    except Cancelled:
        logger.info("task %s cancelled", task_id)
    except KeyboardInterrupt:  # the worker is shutting down (huey raises it on SIGTERM)
        _ignore_stop_signals()
        _release(runtime, claim, worker_id, job.label)
        embedding_pipeline.join_stopped(timeout=30)  # its batch in progress, if any
        raise
    except Exception as error:  # every failure is the document's, never the worker's
        message = job.label + _describe(error, runtime.settings.task_timeout)
        if caused_by_memory(error):
            logger.warning("task %s ran out of memory", task_id)
        elif isinstance(error, InternalError) or not isinstance(
            error, ParseError | TaskTimeout | RagserveError
        ):
            logger.exception("task %s failed", task_id)
    # Out of the except block, so the failed run's frames (and the memory they hold) are gone.
    if message is not None:
        _fail(runtime, claim, worker_id, message)


RELEASED = "The worker was stopped (shutdown); the task is queued again."


def _ignore_stop_signals() -> None:
    """Let nothing interrupt giving the task back (the consumer signals its workers again as it
    exits)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread
            return


def _release(runtime: Runtime, claim: tasks.Claim, worker_id: str, label: str) -> None:
    """Put the task (and its parse's waiting tasks) back in the queue at once, so that the next
    worker takes it without waiting for its lease to run out."""
    with runtime.transaction() as session:
        document = tasks.lock_document(session, claim.document_id)
        if not tasks.release(session, claim.task_id, worker_id):
            return
        if document is not None:
            document.progress = tasks.parse_progress(session, claim.parse_id)
            tasks.append_progress(document, label + RELEASED)
        waiting = tasks.queued_tasks(session, claim.parse_id)
    for task_id in waiting:  # this one, and any its split made but had not queued yet
        runtime.queue.submit(task_id)
    logger.warning("task %s given back to the queue: the worker is stopping", claim.task_id)


def _describe(error: Exception, timeout: int) -> str:
    if caused_by_memory(error):
        return "The document needs more memory than a worker may use."
    if isinstance(error, ParseError):
        return str(error)
    if isinstance(error, RagserveError):  # e.g. the embedding provider refused the key
        return error.message
    if isinstance(error, TaskTimeout):
        return f"Parsing took longer than {timeout} s and was stopped."
    return "Internal error while parsing; see the server log."


def _fail(runtime: Runtime, claim: tasks.Claim, worker_id: str, message: str) -> None:
    """Fail the task and its document, and cancel the other tasks of the parse."""
    with runtime.transaction() as session:
        document = tasks.lock_document(session, claim.document_id)
        if not tasks.finish(session, claim.task_id, worker_id, TaskStatus.FAILED):
            return
        if document is not None:
            tasks.fail_parse(session, document, message)


def requeue_expired(runtime: Runtime) -> None:
    """Queue again the tasks whose worker died (their lease ran out); fail those out of tries.
    Then apply the chunk-store changes a failure left pending (``store_sync``)."""
    with runtime.transaction() as session:
        retry, failed = tasks.expired_tasks(session, runtime.settings.task_attempts)
    for task_id in retry:
        runtime.queue.submit(task_id)
    if retry or failed:
        logger.warning("requeued %d and failed %d abandoned tasks", len(retry), len(failed))
    store_sync.apply_all(runtime.sessions, runtime.chunks)
