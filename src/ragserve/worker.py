"""Worker processes: a huey consumer whose forked processes each build their own runtime.

The runtime is built lazily in the process that runs a task, never before the fork, so no
database connection, model session or index is shared across processes. Each worker process
caps its own memory (``task_memory_limit``) when it starts.

Memory: this module imports only huey and the settings; the server stack (services, models,
parsers) is imported by a worker process when it runs its first task. The consumer that
supervises the workers stays at the size of an interpreter with huey (~55 MB, not ~150), and
so do idle workers. huey's scheduler (the minutely reaper, delayed tasks) runs in the
consumer's own loop rather than in a process of its own that would only wait.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey.consumer import Consumer, Scheduler  # type: ignore[import-untyped]

from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.settings import Settings

if TYPE_CHECKING:
    from ragserve.runtime import Runtime

logger = logging.getLogger("ragserve.worker")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def embedding_threads(settings: Settings, processes: int, cores: int | None = None) -> int:
    """Threads one builtin-model embedding call uses in each of ``processes`` worker processes:
    ``worker_embedding_threads``, or 0 (auto) the cores divided evenly among the processes, at
    least one. Each process embeds in one thread at a time (its embedding thread), so the
    workers together never ask for more cores than there are; the task's own thread
    (tokenizing, reporting) fills the gaps between batches."""
    if settings.worker_embedding_threads > 0:
        return settings.worker_embedding_threads
    return max(1, (cores or available_cores()) // max(processes, 1))


class ProcessRuntime:
    """The runtime of the current worker process, built on first use."""

    def __init__(self, settings: Settings, processes: int = 1) -> None:
        self._settings = settings
        self._threads = embedding_threads(settings, processes)
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def get(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                from ragserve.blas import use_one_blas_thread
                from ragserve.bootstrap import build_runtime

                self._runtime = build_runtime(
                    self._settings, run_tasks_inline=False, embedding_threads=self._threads
                )
                # After the stack is imported: threadpoolctl limits the BLAS loaded by now.
                use_one_blas_thread()
            return self._runtime


def limit_memory(megabytes: int) -> None:
    """Let this process use at most ``megabytes`` MB of heap and other private writable memory
    (``RLIMIT_DATA``); 0 leaves the limit as it is.

    An allocation past the limit fails: Python raises ``MemoryError`` (the task fails with a
    message saying so, and the process lives on). ``RLIMIT_AS`` would count address space that is
    only reserved, which onnxruntime and the allocators reserve by the gigabyte.
    """
    if megabytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    soft = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
    logger.info("worker process %d: memory limited to %d MB", os.getpid(), soft // 2**20)


def release_memory() -> None:
    """Give the memory a task freed back to the system: collect the cycles a parse left, then
    let glibc return its free heap pages (``malloc_trim``; it keeps them otherwise, and an idle
    worker would hold a large document's peak for good)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (musl has no malloc_trim: no trimming there)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def worker_queue(settings: Settings, *, reaper: bool = True, processes: int = 1) -> TaskQueue:
    """The queue of a worker consumer of ``processes`` processes. ``reaper=False`` (the workers
    that ``ragserve serve`` starts) leaves the reaper to the server, which has the stack loaded
    anyway (``Reaper``): a worker that ran it would load the whole stack, ~100 MB, to wait idle."""
    runtime = ProcessRuntime(settings, processes)
    queue = TaskQueue(make_huey(settings))

    def run_task(task_id: str) -> None:
        from ragserve.services import ingestion

        try:
            ingestion.run_task(runtime.get(), task_id, isolate=True)
        finally:
            release_memory()

    def run_dataset_task(task_id: str) -> None:
        from ragserve.services import dataset_tasks

        try:
            dataset_tasks.run_task(runtime.get(), task_id)
        finally:
            release_memory()

    def extract_memory(message_id: str) -> None:
        from ragserve.services import memory_extraction

        try:
            memory_extraction.run(runtime.get(), int(message_id))
        finally:
            release_memory()

    def reap_all() -> None:
        from ragserve.bootstrap import reap

        reap(runtime.get())

    queue.bind(
        run_task=run_task,
        run_dataset_task=run_dataset_task,
        reap=reap_all,
        extract_memory=extract_memory,
    )
    # Startup hooks run in each worker process (not in the consumer that forks them).
    queue.huey.on_startup("memory_limit")(lambda: limit_memory(settings.task_memory_limit))
    if reaper:
        # A worker process also starts when the consumer replaces one that died: the dead one's
        # task is reaped as soon as its lease runs out, not at the next minutely reaper run.
        queue.huey.on_startup("reap_after_lease")(lambda: queue.reap_after(settings.task_lease + 1))
    return queue


def run_workers(settings: Settings, processes: int, *, reaper: bool = True) -> None:
    """Consume the queue with ``processes`` worker processes until SIGTERM/SIGINT; ``reaper``
    also runs the minutely reaper (``False``: a server runs it, see ``Reaper``)."""
    queue = worker_queue(settings, reaper=reaper, processes=processes)
    consumer = InlineSchedulerConsumer(
        queue.huey, workers=processes, worker_type="process", periodic=reaper
    )
    if not reaper:
        # The dead worker's task is reaped as soon as its lease runs out (by a worker: the
        # stack is loaded for that only after a crash), not at the server's next minutely run.
        consumer.on_replace = lambda: queue.reap_after(settings.task_lease + 1)
    logger.info(
        "ragserve worker: %d processes, %d embedding threads each",
        processes,
        embedding_threads(settings, processes),
    )
    consumer.run()


# huey is untyped: its classes are Any to mypy, and subclassing Any is "misc".
class _InlineScheduler(Scheduler):  # type: ignore[misc]
    """huey's scheduler, stepped by the consumer's loop instead of sleeping in a process."""

    def due(self) -> bool:
        return bool(self._next_loop <= time.monotonic())

    def sleep_for_interval(self, start_ts: float, nseconds: float) -> None:
        """The consumer's loop waits (0.1 s on its stop flag), not the scheduler."""


class _NoProcess:
    """What the consumer starts, joins and checks for the scheduler: nothing to run."""

    def start(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass

    def is_alive(self) -> bool:
        return True


class InlineSchedulerConsumer(Consumer):  # type: ignore[misc]  # untyped huey, as above
    """A process consumer whose scheduler runs in the consumer process, between its health
    checks: one process fewer, ~100 MB of resident memory that only waited.

    The consumer forks a replacement for a dead worker; its SQLite queue connection is closed
    before that (as huey does before the first forks), so that no two processes share one.
    """

    scheduler_class = _InlineScheduler
    on_replace: Callable[[], None] | None = None
    """Called after dead workers were replaced."""

    def _create_process(self, process: Any, name: str) -> Any:
        if isinstance(process, _InlineScheduler):
            self._inline_scheduler = process
            return _NoProcess()
        return super()._create_process(process, name)

    def loop(self, health_check_ts: float | None = None) -> float | None:
        scheduler: _InlineScheduler = self._inline_scheduler
        if not self.stop_flag.is_set() and scheduler.due():
            scheduler.loop()
        return super().loop(health_check_ts)  # type: ignore[no-any-return]

    def check_worker_health(self) -> bool:
        dead = not all(self.environment.is_alive(process) for _, process in self.worker_threads)
        if dead:
            self.huey.storage.close()
        healthy = bool(super().check_worker_health())
        if dead and self.on_replace is not None:
            self.on_replace()
        return healthy


class Reaper:
    """The reaper of the workers that ``ragserve serve`` starts, run by the server in a thread
    every minute (as huey's minutely periodic task did in a worker)."""

    def __init__(self, runtime: Runtime, interval: float = 60.0) -> None:
        self._runtime = runtime
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="ragserve-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._runtime.queue.reap_now()
            except Exception:  # the next run tries again; the server lives on
                logger.exception("reaper run failed")


def main(argv: list[str] | None = None) -> None:
    """``python -m ragserve.worker``: what ``ragserve serve`` starts, ``ragserve worker`` without
    the command line's libraries (typer, rich, the client), ~10 MB less in the supervisor and in
    every worker it forks."""
    import argparse

    from ragserve.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m ragserve.worker")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--no-reaper", dest="reaper", action="store_false")
    arguments = parser.parse_args(argv)
    settings = load_settings(arguments.config, home=arguments.home)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_workers(settings, arguments.processes, reaper=arguments.reaper)


if __name__ == "__main__":
    main()
