"""The started components of one ragserve process (built once by ``bootstrap.build_runtime``)
and what they share: model clients per credentials, the tenant defaults of new accounts.

Services receive the ``Runtime``; it imports nothing above the stores, models and queue, so
any layer above may depend on it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ragserve.blobs import BlobStore
from ragserve.db.engine import transaction
from ragserve.health import Component, database_probe
from ragserve.ingest.queue import TaskQueue
from ragserve.lru import LruCache
from ragserve.models.chat import ChatModel, chat_model_for
from ragserve.models.embedding import (
    BuiltinSession,
    EmbeddingModel,
    FloatArray,
    embedding_model_for,
)
from ragserve.models.registry import is_builtin, plain_model_id
from ragserve.models.rerank import RerankModel, rerank_model_for
from ragserve.security import PasswordDecryptor, SessionSigner
from ragserve.settings import Settings
from ragserve.store.base import ChunkStore

CredentialLookup = Callable[[Session, Settings, str | None, str], tuple[str | None, str | None]]
"""``(session, settings, tenant_id, model_id) -> (api_key, api_base)``: how a tenant calls a
model (``services.models.credentials``, handed in by the composition root)."""


@dataclass(frozen=True)
class TenantDefaults:
    """The models a new tenant starts with."""

    llm_id: str = ""
    embd_id: str = ""


QUESTION_VECTORS = 256
QUESTION_THREADS = 4
"""Threads embedding questions while their searches go on (``question_vector_soon``)."""
METADATA_SCOPES = 128

ScopeCache = LruCache[Hashable, tuple[Hashable, tuple[str, ...]]]
"""(datasets, condition) -> (fingerprint, document ids): see ``services.metadata_scope``."""


@dataclass
class Caches:
    """Values derived per process, each keyed on everything that changes it."""

    question_vectors: LruCache[tuple[str, str | None, str | None, str], FloatArray] = field(
        default_factory=lambda: LruCache(QUESTION_VECTORS)
    )
    """(model id, API key, API base, question) -> the question's vector: chat turns and paging
    repeat questions, and two tenants' models of one name may be different servers."""
    metadata_scopes: ScopeCache = field(default_factory=lambda: LruCache(METADATA_SCOPES))


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
    credential_lookup: CredentialLookup
    builtin_embedding: BuiltinSession = field(default_factory=BuiltinSession)
    caches: Caches = field(default_factory=Caches)
    # keyed by (model id, api key, api base): a tenant's new key gets a new client
    _embedders: dict[tuple[str, str | None, str | None], EmbeddingModel] = field(
        default_factory=dict
    )
    _embedders_lock: threading.Lock = field(default_factory=threading.Lock)
    _questions: tuple[int, ThreadPoolExecutor, threading.BoundedSemaphore] | None = None
    """The question-embedding threads and the process that started them (not a fork's)."""

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
        return self._embedder(model_id, *self._credentials(model_id, tenant_id))

    def question_vector(self, model_id: str, tenant_id: str | None, question: str) -> FloatArray:
        """``question`` embedded with the model as the tenant calls it, cached (see ``Caches``)."""
        api_key, api_base = self._credentials(model_id, tenant_id)
        key = (model_id, api_key, api_base, question)
        vector = self.caches.question_vectors.get(key)
        if vector is None:
            vector = self._embedder(model_id, api_key, api_base).embed([question])[0]
            self.caches.question_vectors.put(key, vector)
        return vector

    def question_vector_soon(
        self, model_id: str, tenant_id: str | None, question: str
    ) -> Callable[[], FloatArray]:
        """``question_vector`` started now on another thread, so that the caller's own work
        (tokenizing, the full-text search) runs while the model computes: a function that waits
        for the vector (raising the embedding's error, if any). A cached vector costs no thread."""
        api_key, api_base = self._credentials(model_id, tenant_id)
        key = (model_id, api_key, api_base, question)
        vector = self.caches.question_vectors.get(key)
        if vector is not None:
            return lambda: vector

        def embed() -> FloatArray:
            found: FloatArray = self._embedder(model_id, api_key, api_base).embed([question])[0]
            self.caches.question_vectors.put(key, found)
            return found

        # Never queue behind other searches' embeddings (an API model may take seconds): with
        # every question thread busy, the caller computes the vector itself when it asks.
        pool, slots = self._question_threads()
        if not slots.acquire(blocking=False):
            return embed

        def embed_and_free() -> FloatArray:
            try:
                return embed()
            finally:
                slots.release()

        return pool.submit(embed_and_free).result

    def _question_threads(self) -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore]:
        """This process's question threads and the free ones (made anew after a fork)."""
        started, pid = self._questions, os.getpid()
        if started is not None and started[0] == pid:
            return started[1], started[2]
        with self._embedders_lock:
            if self._questions is None or self._questions[0] != pid:
                pool = ThreadPoolExecutor(QUESTION_THREADS, thread_name_prefix="question-vector")
                self._questions = (pid, pool, threading.BoundedSemaphore(QUESTION_THREADS))
            return self._questions[1], self._questions[2]

    def _embedder(self, model_id: str, api_key: str | None, api_base: str | None) -> EmbeddingModel:
        cache_key = (model_id, api_key, api_base)
        with self._embedders_lock:
            if cache_key not in self._embedders:
                self._embedders[cache_key] = embedding_model_for(
                    plain_model_id(model_id),
                    api_key=api_key,
                    api_base=api_base,
                    timeout=self.settings.llm_timeout,
                    max_retries=self.settings.llm_max_retries,
                    builtin=self.builtin_embedding,
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
            return self.credential_lookup(session, self.settings, tenant_id, model_id)

    def probes(self) -> dict[str, Component]:
        queue_kind = "redis" if self.settings.queue_url else "sqlite"
        return {
            "database": Component(self.engine.dialect.name, database_probe(self.engine)),
            "storage": Component(self.blobs.name, self.blobs.check),
            "doc_engine": Component(
                "postgresql" if self.settings.chunk_store_url else "sqlite", self.chunks.check
            ),
            "queue": Component(queue_kind, self.queue.check),
        }

    def close(self) -> None:
        started, self._questions = self._questions, None
        if started is not None and started[0] == os.getpid():
            started[1].shutdown(wait=True, cancel_futures=True)
        self.chunks.close()
        self.queue.close()
        self.engine.dispose()
