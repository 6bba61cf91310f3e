"""The task queue: huey on a SQLite file (embedded) or on Redis (scale-out).

Producers (the API) and consumers (workers) build the same ``TaskQueue`` from the settings, so both
register the same task names. Messages carry only a task id; the ``ingest_task`` rows decide what
runs (see ``ingest.tasks``), so a message lost with a killed worker is made up for by the reaper.
"""

from __future__ import annotations

from collections.abc import Callable

from huey import Huey, RedisHuey, SqliteHuey, crontab  # type: ignore[import-untyped]
from huey.exceptions import ConfigurationError as HueyConfigurationError  # type: ignore[import-untyped]

from ragserve.errors import ConfigurationError
from ragserve.settings import Settings

RunTask = Callable[[str], None]
Reap = Callable[[], None]


def _unbound(*_args: object) -> None:
    raise RuntimeError("TaskQueue.bind was not called: nothing runs the queue's tasks")


class TaskQueue:
    """The ingestion queue. What runs a task is bound after the components that it needs exist
    (``bootstrap.build_runtime``, ``worker.worker_queue``): a task needs the runtime, and the
    runtime holds the queue."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._run_task: RunTask = _unbound
        self._run_dataset_task: RunTask = _unbound
        self._reap: Reap = _unbound
        self._extract_memory: RunTask = _unbound

        # huey names a task after the module of its function: defining both here gives producers
        # and consumers the same names whoever binds the callables.
        def run(task_id: str) -> None:
            self._run_task(task_id)

        def run_dataset(task_id: str) -> None:
            self._run_dataset_task(task_id)

        def reap_expired() -> None:
            self._reap()

        def reap_once() -> None:
            self._reap()

        def memory_extract(message_id: str) -> None:
            self._extract_memory(message_id)

        self._run = huey.task(name="run")(run)
        self._run_dataset = huey.task(name="run_dataset")(run_dataset)
        self._memory_extract = huey.task(name="memory_extract")(memory_extract)
        self._reap_periodic = huey.periodic_task(crontab(minute="*"), name="reap")(reap_expired)
        self._reap_once = huey.task(name="reap_once")(reap_once)

    def bind(
        self,
        run_task: RunTask,
        run_dataset_task: RunTask,
        reap: Reap,
        extract_memory: RunTask = _unbound,
    ) -> None:
        """``extract_memory`` runs the extraction task of a memory's raw turn (its id)."""
        self._run_task, self._run_dataset_task, self._reap = run_task, run_dataset_task, reap
        self._extract_memory = extract_memory

    def submit(self, task_id: str) -> None:
        """Queue an ingest task (``ingest.tasks``)."""
        self._run(task_id)

    def submit_dataset_task(self, task_id: str) -> None:
        """Queue a dataset-wide task (``ingest.dataset_tasks``)."""
        self._run_dataset(task_id)

    def submit_memory_extraction(self, message_id: int) -> None:
        self._memory_extract(str(message_id))

    def reap_now(self) -> None:
        self._reap_periodic.call_local()

    def reap_after(self, seconds: float) -> None:
        """Queue one reaper run in ``seconds`` (sooner than the minutely one)."""
        self._reap_once.schedule(delay=seconds)

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def check(self) -> None:
        """Health probe: the queue's storage answers."""
        self.huey.pending_count()

    def close(self) -> None:
        """Close the connections to a Redis queue (a SQLite queue keeps none open)."""
        pool = getattr(self.huey.storage, "pool", None)
        if pool is not None:
            pool.disconnect()


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """``immediate`` runs tasks inside the caller (no workers: `workers = 0`). A Redis queue
    must answer now: a malformed or unreachable ``queue_url`` raises ConfigurationError."""
    if settings.queue_url:
        return _redis_huey(settings.queue_url, immediate)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        "ragserve",
        filename=str(settings.home / "queue.db"),
        immediate=immediate,
        results=False,
    )


def _redis_huey(url: str, immediate: bool) -> Huey:
    """The Redis queue, once the server answered (even when ``immediate`` keeps tasks in
    memory: a configured server that cannot be reached is a mistake either way)."""
    try:
        from redis import Redis
        from redis.exceptions import RedisError
    except ImportError as error:  # a dependency: only a broken install lacks it
        raise ConfigurationError("queue_url", f"the redis module is missing: {error}") from error
    try:
        probe = Redis.from_url(url)
        try:
            probe.ping()
        finally:
            probe.close()
        return RedisHuey("ragserve", url=url, immediate=immediate, results=False)
    except (HueyConfigurationError, RedisError, ValueError) as error:
        raise ConfigurationError("queue_url", f"the Redis queue cannot be used: {error}") from error
