"""SQL over the rows of table datasets: the rows (``{column: value}`` of each ``table``-method
chunk) go into a private in-memory SQLite table ``data``, one column per column name with its
type inferred (INTEGER, REAL or TEXT), plus ``_source``, the row's document name. A query runs
read-only: SQLite's authorizer allows reading and functions only, so a statement that would
write, attach a file or change a setting is refused by the engine itself, and a progress
handler stops a query that runs too long. Nothing is ever built by pasting user text into SQL:
the model writes the query, and only this engine runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SOURCE = "_source"
MAX_ROWS = 100
MAX_STEPS = 5_000_000
"""SQLite VM instructions a query may take (about a second) before it is stopped."""
EXAMPLES = 3

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


class QueryError(Exception):
    """The query cannot run; ``str()`` is SQLite's reason, fit to show the model."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[object, ...]]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _number(value: str) -> int | float | None:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def infer_columns(rows: Sequence[Mapping[str, str]]) -> list[Column]:
    """The columns of the rows in first-seen order, each INTEGER, REAL or TEXT: numeric when
    every non-empty value reads as a number."""
    names: dict[str, list[str]] = {}
    for row in rows:
        for name, value in row.items():
            if name != SOURCE:
                names.setdefault(name, []).append(str(value))
    columns = []
    for name, values in names.items():
        filled = [value for value in values if value.strip()]
        numbers = [_number(value.strip()) for value in filled]
        if filled and all(isinstance(n, int) for n in numbers):
            kind = "INTEGER"
        elif filled and all(n is not None for n in numbers):
            kind = "REAL"
        else:
            kind = "TEXT"
        columns.append(Column(name, kind, tuple(dict.fromkeys(filled))[:EXAMPLES]))
    return columns


class Table:
    """The rows, loaded into a connection of their own."""

    def __init__(self, rows: Iterable[tuple[Mapping[str, str], str]]) -> None:
        listed = list(rows)
        self.columns = infer_columns([fields for fields, _source in listed])
        self._connection = sqlite3.connect(":memory:", check_same_thread=False)
        declared = ", ".join(f"{quote(c.name)} {c.type}" for c in self.columns)
        self._connection.execute(
            f"CREATE TABLE data ({declared}{', ' if declared else ''}{SOURCE} TEXT)"
        )
        slots = ", ".join("?" for _ in range(len(self.columns) + 1))
        self._connection.executemany(
            f"INSERT INTO data VALUES ({slots})",  # noqa: S608 (quoted names, bound values)
            [
                (*(self._value(c, fields.get(c.name, "")) for c in self.columns), source)
                for fields, source in listed
            ],
        )
        self._connection.commit()
        self._connection.set_authorizer(_authorize)
        self._connection.set_progress_handler(_stop, MAX_STEPS)

    @staticmethod
    def _value(column: Column, value: str) -> object:
        text = str(value).strip()
        if not text:
            return None
        return _number(text) if column.type != "TEXT" else text

    def schema(self) -> str:
        """The table as the model is shown it: one line per column, with examples."""
        lines = ["Table data:"]
        for column in self.columns:
            examples = ", ".join(column.examples)
            lines.append(f"- {quote(column.name)} {column.type} (e.g. {examples})")
        lines.append(f"- {SOURCE} TEXT (the document the row comes from)")
        return "\n".join(lines)

    def run(self, sql: str) -> QueryResult:
        """Run one read-only SELECT; at most ``MAX_ROWS`` rows."""
        statement = sql.strip().rstrip(";").strip()
        if not statement or not sqlite3.complete_statement(statement + ";"):
            raise QueryError("not one complete SQL statement")
        try:
            cursor = self._connection.execute(statement)
            rows = cursor.fetchmany(MAX_ROWS)
        except (sqlite3.Error, sqlite3.Warning) as error:
            raise QueryError(str(error)) from None
        columns = [item[0] for item in cursor.description or []]
        return QueryResult(columns, [tuple(row) for row in rows])

    def close(self) -> None:
        self._connection.close()


def _authorize(action: int, *_args: object) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _stop() -> int:
    return 1  # called every MAX_STEPS instructions: the query has run too long


def markdown(result: QueryResult) -> str:
    """The result as a markdown table; a ``_source`` column becomes the last, ``Source``."""
    columns = list(result.columns)
    order = [i for i, name in enumerate(columns) if name != SOURCE]
    source = columns.index(SOURCE) if SOURCE in columns else None
    header = [columns[i] for i in order] + (["Source"] if source is not None else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result.rows:
        cells = [_cell(row[i]) for i in order]
        if source is not None:
            cells.append(_cell(row[source]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")
