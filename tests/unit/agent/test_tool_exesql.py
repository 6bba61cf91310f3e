"""ExeSQL against the real PostgreSQL and MariaDB servers of this machine and a SQLite file:
rows, ``max_records``, several statements, and read-only enforced by the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers.databases import temporary_database
from ragserve.settings import Settings
from unit.agent.conftest import Environment, Runner, chain

WRITES = [
    "INSERT INTO birds (name, wingspan) VALUES ('gull', 1.2)",
    "UPDATE birds SET wingspan = 9",
    "DELETE FROM birds",
    "CREATE TABLE sneaky (x int)",
    "DROP TABLE birds",
]


def _fill(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE birds (name varchar(20), wingspan float)"))
            connection.execute(
                sa.text("INSERT INTO birds VALUES ('crane', 2.3), ('heron', 1.9), ('wren', 0.15)")
            )
    finally:
        engine.dispose()


def _count(url: str) -> tuple[int, list[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM birds")).scalar_one()
            tables = sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()
    return int(count), sorted(tables)


@pytest.fixture(params=["postgresql", "mariadb"])
def server_db(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    with temporary_database(request.param) as url:
        _fill(url)
        parts = sa.make_url(url)
        params = {
            "db_type": "postgres" if request.param == "postgresql" else "mariadb",
            "database": parts.database,
            "username": parts.username,
            "password": parts.password or "",
            "host": parts.host,
            "port": parts.port or (5432 if request.param == "postgresql" else 3306),
        }
        yield url, params


@pytest.fixture
def private_ok(environment: Environment, tmp_path: Path) -> Environment:
    environment.settings = Settings(allow_private_urls=True, agent_sqlite_dir=tmp_path)
    return environment


def outputs(run: Runner, params: dict[str, Any], sql: str) -> dict[str, Any]:
    _events, turn = run(chain(("ExeSQL:q", "ExeSQL", {**params, "sql": sql})), query="q")
    assert turn.error is None, turn.error
    return turn.state.outputs["ExeSQL:q"]


def test_rows_tables_and_max_records(
    run: Runner, private_ok: Environment, server_db: tuple[str, dict[str, Any]]
) -> None:
    _, params = server_db
    found = outputs(
        run,
        {**params, "max_records": 2},
        "```sql\nSELECT name, wingspan FROM birds ORDER BY wingspan DESC; "
        "SELECT name FROM birds WHERE name = 'nobody'\n```",
    )
    assert found["json"][0] == [
        {"name": "crane", "wingspan": 2.3},
        {"name": "heron", "wingspan": 1.9},
    ]
    assert found["json"][1] == {"content": "No record in the database!"}
    assert "| name | wingspan |\n|---|---|\n| crane | 2.3 |" in found["formalized_content"]


@pytest.mark.parametrize("write", WRITES)
def test_writes_are_refused_by_the_database(
    run: Runner, private_ok: Environment, server_db: tuple[str, dict[str, Any]], write: str
) -> None:
    url, params = server_db
    found = outputs(run, params, f"{write}; SELECT count(*) AS n FROM birds")
    assert found["json"][0]["content"].startswith(f"SQL Execution Failed: {write}")
    assert "read" in found["json"][0]["content"].lower()  # "read-only transaction"
    assert found["json"][1] == [{"n": 3}]  # the next statement still runs
    assert _count(url) == (3, ["birds"])


@pytest.mark.parametrize(
    "escape",
    [
        ["SET TRANSACTION READ WRITE", "DELETE FROM birds"],
        ["COMMIT", "DELETE FROM birds"],
        ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "DELETE FROM birds"],
        ["SET SESSION TRANSACTION READ WRITE", "DELETE FROM birds"],
    ],
)
def test_a_statement_cannot_switch_read_only_off(
    run: Runner, private_ok: Environment, server_db: tuple[str, dict[str, Any]], escape: list[str]
) -> None:
    url, params = server_db
    outputs(run, params, "; ".join(escape))
    assert _count(url) == (3, ["birds"])


def test_read_only_off_writes(
    run: Runner, private_ok: Environment, server_db: tuple[str, dict[str, Any]]
) -> None:
    url, params = server_db
    outputs(run, {**params, "read_only": False}, "DELETE FROM birds WHERE name = 'wren'")
    assert _count(url) == (2, ["birds"])


def test_sqlite_read_only(run: Runner, private_ok: Environment, tmp_path: Path) -> None:
    path = tmp_path / "birds.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE birds (name text, wingspan real)")
    connection.execute("INSERT INTO birds VALUES ('crane', 2.3), ('wren', 0.15)")
    connection.commit()
    connection.close()
    params = {"db_type": "sqlite", "database": "birds.db"}
    found = outputs(run, params, "SELECT name FROM birds WHERE wingspan > 1")
    assert found["json"] == [[{"name": "crane"}]]
    other = tmp_path / "other.db"
    for write in [*WRITES, f"ATTACH DATABASE '{other}' AS o", "PRAGMA query_only = 0"]:
        found = outputs(run, params, write)
        assert found["json"][0]["content"].startswith("SQL Execution Failed"), write
    assert not other.exists()
    assert _count(f"sqlite:///{path}") == (2, ["birds"])


def test_sqlite_stays_in_its_directory(run: Runner, private_ok: Environment) -> None:
    params = {"db_type": "sqlite", "database": "../../etc/passwd"}
    _events, turn = run(chain(("ExeSQL:q", "ExeSQL", {**params, "sql": "SELECT 1"})))
    assert "no SQLite database `../../etc/passwd`" in str(turn.error)


def test_sqlite_is_off_without_its_setting(run: Runner) -> None:
    params = {"db_type": "sqlite", "database": "x.db", "sql": "SELECT 1"}
    _events, turn = run(chain(("ExeSQL:q", "ExeSQL", params)))
    assert "agent_sqlite_dir" in str(turn.error)


def test_private_hosts_are_refused_by_default(run: Runner) -> None:
    params = {"db_type": "postgres", "database": "test", "host": "127.0.0.1", "port": 5432}
    _events, turn = run(chain(("ExeSQL:q", "ExeSQL", {**params, "sql": "SELECT 1"})))
    assert "is a private address (127.0.0.1)" in str(turn.error)
    assert "allow_private_urls" in str(turn.error)


def test_the_sql_defaults_to_the_question(run: Runner, private_ok: Environment) -> None:
    params = {"db_type": "mariadb", "database": "test", "host": "127.0.0.1", "username": "root"}
    _events, turn = run(chain(("ExeSQL:q", "ExeSQL", params)), query="SELECT 6 * 7 AS answer")
    assert turn.state.outputs["ExeSQL:q"]["json"] == [[{"answer": 42}]]
