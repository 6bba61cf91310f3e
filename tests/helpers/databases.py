"""Fresh, throw-away databases on the PostgreSQL and MariaDB servers of this machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

SERVER_URLS = {
    "postgresql": os.environ.get(
        "RAGSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("RAGSERVE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}


def _unreachable(kind: str, error: Exception) -> None:
    """In CI the servers must be up (``.ci/run`` starts them): fail. Elsewhere, skip."""
    message = f"{kind} server not reachable at {SERVER_URLS[kind]}: {error}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def temporary_database(kind: str) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    name = f"ragserve_test_{uuid.uuid4().hex[:12]}"
    admin_url = sa.make_url(SERVER_URLS[kind])
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        _unreachable(kind, error)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if kind == "postgresql":
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
