"""The started components of one ragserve process, built once from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
from ragserve.services.health import (
    Component,
    database_probe,
    sqlite_fts5_probe,
)
from ragserve.services.security import PasswordDecryptor, SessionSigner
from ragserve.services.users import TenantDefaults
from ragserve.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    signer: SessionSigner
    passwords: PasswordDecryptor
    blobs: BlobStore

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

    def probes(self) -> dict[str, Component]:
        return {
            "database": Component(self.engine.dialect.name, database_probe(self.engine)),
            "storage": Component(self.blobs.name, self.blobs.check),
            "doc_engine": Component("sqlite", sqlite_fts5_probe),
        }

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Open the stores (migrating the metadata schema to the newest version) and load keys."""
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    passphrase = settings.rsa_private_key_passphrase
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        signer=SessionSigner(settings.signing_key(), settings.session_max_age),
        passwords=PasswordDecryptor.from_file(
            settings.rsa_private_key_file, passphrase.get_secret_value() if passphrase else None
        ),
        blobs=make_blob_store(settings),
    )
