"""ExeSQL: runs SQL on a MySQL/MariaDB, PostgreSQL or SQLite database and gives the rows.

Parameters (RAGFlow's): ``db_type`` (mysql, mariadb, postgres; ragserve adds sqlite),
``database``, ``username``, ``host``, ``port``, ``password``, ``max_records`` (1024: rows kept
per statement); ragserve adds ``read_only`` (true). The argument ``sql`` (default
``{sys.query}``) may hold several statements separated by ``;``; code fences and ``[ID:n]``
marks are removed. Outputs: ``json`` (per statement its rows as objects, or ``{"content":
message}``), ``formalized_content`` (each result as a Markdown table).

Read-only is enforced by the database, not by reading the SQL: each statement runs alone
(split at ``;``, so one ``execute`` never holds two statements) in a transaction the server
knows is read-only, rolled back afterwards.
* PostgreSQL: ``START TRANSACTION READ ONLY`` then a first query (after which PostgreSQL
  refuses to switch the transaction to read-write), the statement, ``ROLLBACK``.
* MySQL/MariaDB: ``SET SESSION TRANSACTION READ ONLY`` (so even a statement that commits
  implicitly, DDL, runs read-only) and ``START TRANSACTION READ ONLY`` before each statement,
  ``ROLLBACK`` after; multi-statements are off in the driver.
* SQLite: the file opens read-only (``mode=ro``) and an authorizer allows reads only (no
  ATTACH, PRAGMA or writes). Files live in ``agent_sqlite_dir`` (no setting: no SQLite).
The host must be public unless ``allow_private_urls`` (the connection goes to the
address checked). A read-only transaction stops changes to
the database, not what a privileged account may do beside it (MySQL's ``SELECT … INTO
OUTFILE``, PostgreSQL's ``COPY … TO`` a server file or admin functions): give ExeSQL an
account with read rights only.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import math
import re
import sqlite3
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
import pymysql
from pydantic import Field

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.tools.base import Tool, ToolArgument
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.url_guard import check_host


class ExeSQLParams(ComponentParams):
    db_type: Literal["mysql", "mariadb", "postgres", "sqlite"] = "mysql"
    database: str = ""
    username: str = ""
    host: str = ""
    port: int = Field(3306, ge=1, le=65535)
    password: str = ""
    max_records: int = Field(1024, ge=1, le=100_000)
    read_only: bool = True


class _Cursor(Protocol):
    description: Any

    def execute(self, sql: str) -> Any: ...
    def fetchmany(self, size: int) -> Any: ...
    def close(self) -> Any: ...


def _plain(value: Any) -> Any:
    """A JSON-friendly cell."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def statements(sql: str) -> list[str]:
    cleaned = re.sub(r"\[ID:[0-9]+\]", "", sql.replace("```sql", "").replace("```", ""))
    return [part.strip() for part in cleaned.split(";") if part.strip()]


_SQLITE_READS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}


def _sqlite_authorizer(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _SQLITE_READS else sqlite3.SQLITE_DENY


class ExeSQL(Tool):
    component_name = "ExeSQL"
    Params = ExeSQLParams
    function_description = "Executes SQL on a database and returns the rows."
    arguments = (ToolArgument("sql", "The SQL to execute.", default="{sys.query}"),)

    @property
    def settings_of_sql(self) -> ExeSQLParams:
        assert isinstance(self.params, ExeSQLParams)
        return self.params

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        sql = self.text_argument(arguments, "sql")
        if not sql:
            raise ComponentError(f"ExeSQL {self.id}: the SQL is empty.")
        connection, begin, end = self._connect(context)
        results: list[Any] = []
        shown: list[str] = []
        try:
            cursor: _Cursor = connection.cursor()
            try:
                for statement in statements(sql):
                    context.check_deadline()
                    rows, message = self._execute(connection, cursor, statement, begin, end)
                    results.append(rows if message is None else {"content": message})
                    shown.append(markdown_table(rows) if message is None else message)
            finally:
                cursor.close()
        finally:
            with contextlib.suppress(Exception):
                connection.close()
        return {"json": results, "formalized_content": "\n\n".join(shown)}

    def _execute(
        self, connection: Any, cursor: _Cursor, statement: str, begin: list[str], end: list[str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        try:
            for sql in begin:
                cursor.execute(sql)
            cursor.execute(statement)
            rows: list[dict[str, Any]] = []
            if cursor.description:
                columns = [str(column[0]) for column in cursor.description]
                fetched = cursor.fetchmany(self.settings_of_sql.max_records)
                rows = [
                    dict(zip(columns, (_plain(v) for v in row), strict=False)) for row in fetched
                ]
            for sql in end:
                cursor.execute(sql)
        except (psycopg.Error, pymysql.Error, sqlite3.Error) as error:
            with contextlib.suppress(Exception):
                if end:
                    cursor.execute("ROLLBACK")
                else:
                    connection.rollback()
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return [], f"SQL Execution Failed: {statement}\n{type(error).__name__}: {first_line}"
        if not rows:
            return [], "No record in the database!"
        return rows, None

    def _connect(self, context: RunContext) -> tuple[Any, list[str], list[str]]:
        """The connection and the statements run before and after each statement."""
        params = self.settings_of_sql
        settings = self.settings(context)
        if params.db_type == "sqlite":
            return self._sqlite(context)
        if not params.database or not params.host:
            raise ComponentError(f"ExeSQL {self.id}: `database` and `host` are required.")
        address = check_host(params.host, allow_private=settings.allow_private_urls)
        try:
            if params.db_type == "postgres":
                connection: Any = psycopg.connect(
                    host=address,
                    port=params.port,
                    dbname=params.database,
                    user=params.username or None,
                    password=params.password or None,
                    autocommit=True,
                    connect_timeout=10,
                )
                if not params.read_only:
                    return connection, [], []
                return connection, ["START TRANSACTION READ ONLY", "SELECT 1"], ["ROLLBACK"]
            connection = pymysql.connect(
                host=address,
                port=params.port,
                database=params.database,
                user=params.username,
                password=params.password,
                autocommit=True,
                connect_timeout=10,
                client_flag=0,
            )
        except (psycopg.Error, pymysql.Error) as error:
            raise ComponentError(
                f"ExeSQL {self.id}: database connection failed: {type(error).__name__}."
            ) from None
        if not params.read_only:
            return connection, [], []
        guard = ["SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY"]
        return connection, guard, ["ROLLBACK"]

    def _sqlite(self, context: RunContext) -> tuple[Any, list[str], list[str]]:
        params = self.settings_of_sql
        folder = self.settings(context).agent_sqlite_dir
        if folder is None:
            raise ComponentError(
                f"ExeSQL {self.id}: SQLite is off (setting `agent_sqlite_dir` is unset)."
            )
        root = Path(folder).resolve()
        path = (root / params.database).resolve()
        if not params.database or not path.is_relative_to(root) or not path.is_file():
            raise ComponentError(
                f"ExeSQL {self.id}: no SQLite database `{params.database}` in `agent_sqlite_dir`."
            )
        mode = "ro" if params.read_only else "rw"
        connection = sqlite3.connect(f"{path.as_uri()}?mode={mode}", uri=True, timeout=10)
        if params.read_only:
            connection.set_authorizer(_sqlite_authorizer)
        return connection, [], []
