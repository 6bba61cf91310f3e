"""The started components of one ragserve process, built once from the settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ragserve.blobs import BlobStore, make_blob_store
from ragserve.db import migrate
from ragserve.db.engine import (
    make_engine,
    make_read_session_factory,
    make_session_factory,
    transaction,
)
from ragserve.ingest.queue import TaskQueue, make_huey
from ragserve.models.chat import ChatModel, chat_model_for
from ragserve.models.embedding import EmbeddingModel, embedding_model_for
from ragserve.models.rerank import RerankModel, rerank_model_for
from ragserve.services.health import (
    Component,
    database_probe,
)
from ragserve.services.models import credentials, is_builtin, plain_model_id
from ragserve.services.security import PasswordDecryptor, SessionSigner
from ragserve.services.users import TenantDefaults
from ragserve.settings import Settings
from ragserve.store.base import ChunkStore
from ragserve.store.sqlite import SqliteChunkStore


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    signer: SessionSigner
    passwords: PasswordDecryptor
    blobs: BlobStore
    chunks: ChunkStore
    queue: TaskQueue
    # keyed by (model id, api key, api base): a tenant's new key gets a new client
    _embedders: dict[tuple[str, str | None, str | None], EmbeddingModel] = field(
        default_factory=dict
    )
    _embedders_lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A transaction that may write; commits on success, rolls back on error."""
        with transaction(self.sessions) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads."""
        with transaction(self.read_sessions) as session:
            yield session

    @property
    def tenant_defaults(self) -> TenantDefaults:
        return TenantDefaults(
            llm_id=self.settings.default_chat_model,
            embd_id=self.settings.default_embedding_model,
        )

    def embedding_model(self, model_id: str, tenant_id: str | None = None) -> EmbeddingModel:
        """The embedding model ``name@factory`` with the tenant's credentials (see
        ``services.models.credentials``), kept per model and credentials."""
        api_key, api_base = self._credentials(model_id, tenant_id)
        cache_key = (model_id, api_key, api_base)
        with self._embedders_lock:
            if cache_key not in self._embedders:
                self._embedders[cache_key] = embedding_model_for(
                    plain_model_id(model_id),
                    api_key=api_key,
                    api_base=api_base,
                    timeout=self.settings.llm_timeout,
                    max_retries=self.settings.llm_max_retries,
                )
            return self._embedders[cache_key]

    def chat_model(self, model_id: str, tenant_id: str | None) -> ChatModel:
        """The API chat model ``name@factory`` (or a LiteLLM model string) with the tenant's
        credentials."""
        api_key, api_base = self._credentials(model_id, tenant_id)
        return chat_model_for(
            plain_model_id(model_id),
            api_key=api_key,
            api_base=api_base,
            timeout=self.settings.llm_timeout,
            max_retries=self.settings.llm_max_retries,
        )

    def rerank_model(self, model_id: str, tenant_id: str | None) -> RerankModel:
        """The API rerank model ``name@factory`` (or a LiteLLM model string) with the tenant's
        credentials."""
        api_key, api_base = self._credentials(model_id, tenant_id)
        return rerank_model_for(
            plain_model_id(model_id),
            api_key=api_key,
            api_base=api_base,
            timeout=self.settings.llm_timeout,
            max_retries=self.settings.llm_max_retries,
        )

    def _credentials(self, model_id: str, tenant_id: str | None) -> tuple[str | None, str | None]:
        if is_builtin(model_id):
            return None, None  # without a database round trip: every question is embedded
        with self.read() as session:
            return credentials(session, self.settings, tenant_id, model_id)

    def probes(self) -> dict[str, Component]:
        queue_kind = "redis" if self.settings.queue_url else "sqlite"
        return {
            "database": Component(self.engine.dialect.name, database_probe(self.engine)),
            "storage": Component(self.blobs.name, self.blobs.check),
            "doc_engine": Component("sqlite", self.chunks.check),
            "queue": Component(queue_kind, self.queue.check),
        }

    def close(self) -> None:
        self.chunks.close()
        self.engine.dispose()


def build_runtime(settings: Settings, *, run_tasks_inline: bool | None = None) -> Runtime:
    """Open the stores (migrating the metadata schema to the newest version) and load keys.

    ``run_tasks_inline`` (default: ``workers == 0``) makes queued tasks run in the caller.
    """
    from ragserve.ingest import pipeline

    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    passphrase = settings.rsa_private_key_passphrase
    inline = settings.workers == 0 if run_tasks_inline is None else run_tasks_inline
    holder: list[Runtime] = []
    queue = TaskQueue(
        make_huey(settings, immediate=inline),
        run_task=lambda task_id: pipeline.run_task(holder[0], task_id),
        reap=lambda: pipeline.requeue_expired(holder[0]),
    )
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
        queue=queue,
    )
    holder.append(runtime)
    return runtime
