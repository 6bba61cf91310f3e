"""The composition root: builds the components of a ragserve process once, from the settings,
and wires them together. Only the entry points (``app``, ``worker``, ``cli``) import it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ragserve.blobs import BlobStore, BlobStoreError, make_blob_store
from ragserve.db import migrate
from ragserve.db.engine import make_engine, make_read_session_factory, make_session_factory
from ragserve.errors import ConfigurationError
from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.models.embedding import BuiltinSession
from ragserve.runtime import Runtime
from ragserve.security import PasswordDecryptor, SessionSigner
from ragserve.services import dataset_tasks, ingestion, memory_extraction
from ragserve.services.models import credentials
from ragserve.services.store_migration import MigrationReport, migrate_chunks
from ragserve.settings import Settings
from ragserve.store import ChunkStore, ChunkStoreError
from ragserve.store.postgres import PgChunkStore
from ragserve.store.sqlite import SqliteChunkStore


def reap(runtime: Runtime) -> None:
    """The reaper's run: parse, dataset and memory-extraction tasks whose worker died."""
    dataset_tasks.requeue_expired(runtime)
    memory_extraction.requeue_abandoned(runtime)


def build_runtime(
    settings: Settings, *, run_tasks_inline: bool | None = None, embedding_threads: int = 1
) -> Runtime:
    """Open the stores (migrating the metadata schema to the newest version) and load keys.

    ``run_tasks_inline`` (default: ``settings.runs_tasks_inline``) makes queued tasks run in the
    caller; ``embedding_threads`` is how many threads one call of the builtin embedding model
    may use (a server embeds one question at a time: ``server_embedding_threads``; a worker,
    ``worker.embedding_threads``).

    A backend a setting selects that cannot be used (driver missing, URL malformed, server
    unreachable) raises ConfigurationError naming the setting.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = open_database(settings)
    passphrase = settings.rsa_private_key_passphrase
    inline = settings.runs_tasks_inline if run_tasks_inline is None else run_tasks_inline
    chunks: ChunkStore | None = None
    try:
        blobs = open_blob_store(settings)
        chunks = make_chunk_store(settings)
        queue = TaskQueue(make_huey(settings, immediate=inline))
    except BaseException:
        if chunks is not None:
            chunks.close()
        engine.dispose()
        raise
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        signer=SessionSigner(settings.signing_key(), settings.session_max_age),
        passwords=PasswordDecryptor.from_file(
            settings.rsa_private_key_file, passphrase.get_secret_value() if passphrase else None
        ),
        blobs=blobs,
        chunks=chunks,
        queue=queue,
        credential_lookup=credentials,
        builtin_embedding=BuiltinSession(
            intra_op_threads=embedding_threads, cache_dir=settings.resolved_models_dir
        ),
    )
    runtime.queue.bind(
        run_task=lambda task_id: ingestion.run_task(runtime, task_id),
        run_dataset_task=lambda task_id: dataset_tasks.run_task(runtime, task_id),
        reap=lambda: reap(runtime),
        extract_memory=lambda message_id: memory_extraction.run(runtime, int(message_id)),
    )
    return runtime


def check_backends(settings: Settings) -> None:
    """Open and close the metadata database, blob store, chunk store and queue the settings select
    (a worker's parent process, before it forks the processes that use them); raise
    ConfigurationError naming the setting of one that cannot be used."""
    settings.home.mkdir(parents=True, exist_ok=True)
    open_database(settings).dispose()
    open_blob_store(settings)
    make_chunk_store(settings).close()
    TaskQueue(make_huey(settings)).close()


def open_database(settings: Settings) -> Engine:
    """The metadata database's engine, its schema migrated to the newest version."""
    try:
        engine = make_engine(settings.resolved_database_url)
    except (ArgumentError, ImportError, ValueError) as error:
        raise ConfigurationError("database_url", f"not a usable database URL: {error}") from error
    try:
        migrate.upgrade(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        problem = getattr(error, "orig", None) or error
        raise ConfigurationError(
            "database_url", f"the database cannot be used: {problem}"
        ) from error
    return engine


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store; an S3 bucket must answer now."""
    try:
        blobs = make_blob_store(settings)
    except ValueError as error:
        raise ConfigurationError("s3_bucket", str(error)) from error
    if settings.blob_backend == "s3":
        try:
            blobs.check()
        except BlobStoreError as error:
            setting = "s3_endpoint_url" if settings.s3_endpoint_url else "s3_bucket"
            raise ConfigurationError(setting, str(error)) from error
    return blobs


def make_chunk_store(settings: Settings) -> ChunkStore:
    """PostgreSQL with pgvector when ``chunk_store_url`` is set, else the embedded store."""
    if not settings.chunk_store_url:
        return SqliteChunkStore(settings.home / "chunks.db", settings.home / "vectors")
    try:
        return PgChunkStore(settings.chunk_store_url)
    except ChunkStoreError as error:
        raise ConfigurationError("chunk_store_url", str(error)) from error


def migrate_store(
    settings: Settings, to_url: str, progress: Callable[[str], None]
) -> MigrationReport:
    """Copy the embedded chunk store of ``settings.home`` to the PostgreSQL store at ``to_url``
    (``services.store_migration``); a target that cannot be used raises ConfigurationError."""
    engine = open_database(settings)
    source: ChunkStore | None = None
    target: ChunkStore | None = None
    try:
        source = SqliteChunkStore(settings.home / "chunks.db", settings.home / "vectors")
        target = make_chunk_store(settings.model_copy(update={"chunk_store_url": to_url}))
        return migrate_chunks(make_session_factory(engine), source, target, progress)
    finally:
        for store in (target, source):
            if store is not None:
                store.close()
        engine.dispose()
