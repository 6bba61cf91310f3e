"""Worker processes: a huey consumer whose forked processes each build their own runtime.

The runtime is built lazily in the process that runs a task, never before the fork, so no
database connection, model session or index is shared across processes.
"""

from __future__ import annotations

import logging
import threading

from ragserve.ingest import pipeline
from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.runtime import Runtime, build_runtime
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


def worker_queue(settings: Settings) -> TaskQueue:
    runtime = ProcessRuntime(settings)
    return TaskQueue(
        make_huey(settings),
        run_task=lambda task_id: pipeline.run_task(runtime.get(), task_id),
        reap=lambda: pipeline.requeue_expired(runtime.get()),
    )


def run_workers(settings: Settings, processes: int) -> None:
    """Consume the queue with ``processes`` worker processes until SIGTERM/SIGINT."""
    queue = worker_queue(settings)
    consumer = queue.huey.create_consumer(
        workers=processes, worker_type="process", periodic=True, check_worker_health=True
    )
    logger.info("ragserve worker: %d processes", processes)
    consumer.run()
