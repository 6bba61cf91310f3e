"""Worker processes: a huey consumer whose forked processes each build their own runtime.

The runtime is built lazily in the process that runs a task, never before the fork, so no
database connection, model session or index is shared across processes. Each worker process
caps its own memory (``task_memory_limit``) when it starts.
"""

from __future__ import annotations

import logging
import os
import resource
import threading

from ragserve.blas import use_one_blas_thread
from ragserve.bootstrap import build_runtime, reap
from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.runtime import Runtime
from ragserve.services import dataset_tasks, ingestion, memory_extraction
from ragserve.settings import Settings

logger = logging.getLogger("ragserve.worker")


class ProcessRuntime:
    """The runtime of the current worker process, built on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def get(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = build_runtime(self._settings, run_tasks_inline=False)
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


def worker_queue(settings: Settings) -> TaskQueue:
    runtime = ProcessRuntime(settings)
    queue = TaskQueue(make_huey(settings))
    queue.bind(
        run_task=lambda task_id: ingestion.run_task(runtime.get(), task_id, isolate=True),
        run_dataset_task=lambda task_id: dataset_tasks.run_task(runtime.get(), task_id),
        reap=lambda: reap(runtime.get()),
        extract_memory=lambda message_id: memory_extraction.run(runtime.get(), int(message_id)),
    )
    # Startup hooks run in each worker process (not in the consumer that forks them).
    queue.huey.on_startup("memory_limit")(lambda: limit_memory(settings.task_memory_limit))
    queue.huey.on_startup("one_blas_thread")(use_one_blas_thread)
    # A worker process also starts when the consumer replaces one that died: the dead one's
    # task is reaped as soon as its lease runs out, not at the next minutely reaper run.
    queue.huey.on_startup("reap_after_lease")(lambda: queue.reap_after(settings.task_lease + 1))
    return queue


def run_workers(settings: Settings, processes: int) -> None:
    """Consume the queue with ``processes`` worker processes until SIGTERM/SIGINT."""
    queue = worker_queue(settings)
    consumer = queue.huey.create_consumer(
        workers=processes, worker_type="process", periodic=True, check_worker_health=True
    )
    logger.info("ragserve worker: %d processes", processes)
    consumer.run()
