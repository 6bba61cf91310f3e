"""Engine and session factories for the metadata store (SQLite, PostgreSQL or MariaDB/MySQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ragserve.schemas import json_values

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option naming how a SQLite transaction begins. Writers begin IMMEDIATE (take the
# write lock up front), so two writers queue on busy_timeout instead of one failing with
# SQLITE_BUSY_SNAPSHOT after both read; readers begin DEFERRED and never block each other.
SQLITE_BEGIN = "sqlite_begin"


def make_engine(url: str) -> Engine:
    """An engine with the settings each database kind needs to be safe under concurrency."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_deserializer=read_json,
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, json_deserializer=read_json)


def read_json(text: str | bytes) -> Any:
    """A JSON column's value, readable whatever an older version stored in it
    (``schemas.json_values.readable``): a bad value spoils itself, never the listing that
    shows it. PostgreSQL's driver hands over bytes."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except RecursionError:  # nested deeper than the parser goes: the column's empty value
        return [] if text.lstrip().startswith("[") else {}
    if json_values.may_hold_surrogates(text) or json_values.is_too_deep(text):
        return json_values.readable(value)
    return value


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN (needed for SAVEPOINT and IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for transactions that write."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for transactions that only read (on SQLite they take no write lock)."""
    return sessionmaker(
        engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}), expire_on_commit=False
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
