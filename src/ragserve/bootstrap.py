"""The composition root: builds the components of a ragserve process once, from the settings,
and wires them together. Only the entry points (``app``, ``worker``, ``cli``) import it."""

from __future__ import annotations

from ragserve.blobs import make_blob_store
from ragserve.db import migrate
from ragserve.db.engine import make_engine, make_read_session_factory, make_session_factory
from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.models.embedding import BuiltinSession
from ragserve.runtime import Runtime
from ragserve.security import PasswordDecryptor, SessionSigner
from ragserve.services import dataset_tasks, ingestion
from ragserve.services.models import credentials
from ragserve.settings import Settings
from ragserve.store.sqlite import SqliteChunkStore


def build_runtime(
    settings: Settings, *, run_tasks_inline: bool | None = None, embedding_threads: int = 1
) -> Runtime:
    """Open the stores (migrating the metadata schema to the newest version) and load keys.

    ``run_tasks_inline`` (default: ``workers == 0``) makes queued tasks run in the caller;
    ``embedding_threads`` is how many threads one call of the builtin embedding model may use
    (a server embeds one question at a time: ``server_embedding_threads``; a worker, one).
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    passphrase = settings.rsa_private_key_passphrase
    inline = settings.workers == 0 if run_tasks_inline is None else run_tasks_inline
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        signer=SessionSigner(settings.signing_key(), settings.session_max_age),
        passwords=PasswordDecryptor.from_file(
            settings.rsa_private_key_file, passphrase.get_secret_value() if passphrase else None
        ),
        blobs=make_blob_store(settings),
        chunks=SqliteChunkStore(settings.home / "chunks.db", settings.home / "vectors"),
        queue=TaskQueue(make_huey(settings, immediate=inline)),
        credential_lookup=credentials,
        builtin_embedding=BuiltinSession(
            intra_op_threads=embedding_threads, cache_dir=settings.resolved_models_dir
        ),
    )
    runtime.queue.bind(
        run_task=lambda task_id: ingestion.run_task(runtime, task_id),
        run_dataset_task=lambda task_id: dataset_tasks.run_task(runtime, task_id),
        reap=lambda: dataset_tasks.requeue_expired(runtime),
    )
    return runtime
