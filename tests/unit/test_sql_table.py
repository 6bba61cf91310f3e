"""SQL over table rows: types inferred, read-only by the engine, bounded, rendered as markdown."""

from __future__ import annotations

import pytest

from ragserve.rag.sql_table import MAX_ROWS, QueryError, Table, markdown

ROWS = [
    ({"name": "Apple", "price": "3", "weight": "0.2", "note": ""}, "fruit.csv"),
    ({"name": "Banana", "price": "1", "weight": "0.15", "note": "ripe | soft"}, "fruit.csv"),
    ({"name": "Cherry", "price": "5", "weight": "", "note": "12 pcs"}, "more.csv"),
]


@pytest.fixture
def table() -> Table:
    return Table(ROWS)


def test_columns_get_their_types_and_examples(table: Table) -> None:
    kinds = {column.name: column.type for column in table.columns}
    assert kinds == {"name": "TEXT", "price": "INTEGER", "weight": "REAL", "note": "TEXT"}
    assert '- "name" TEXT (e.g. Apple, Banana, Cherry)' in table.schema()
    assert "- _source TEXT" in table.schema()


def test_a_select_runs_with_numbers_compared_as_numbers(table: Table) -> None:
    result = table.run('SELECT "name", _source FROM data WHERE "price" > 2 ORDER BY "price";')
    assert result.columns == ["name", "_source"]
    assert result.rows == [("Apple", "fruit.csv"), ("Cherry", "more.csv")]
    assert table.run('SELECT SUM("price") FROM data').rows == [(9,)]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE data",
        "DELETE FROM data",
        "INSERT INTO data (name) VALUES ('x')",
        "UPDATE data SET price = 0",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA query_only = 0",
        "CREATE TABLE t (a)",
        "SELEC 1",
        "",
        "SELECT 1; DROP TABLE data",
    ],
)
def test_anything_but_one_select_is_refused(table: Table, sql: str) -> None:
    with pytest.raises(QueryError):
        table.run(sql)
    assert table.run("SELECT COUNT(*) FROM data").rows == [(3,)]  # nothing changed


def test_a_runaway_query_is_stopped(table: Table) -> None:
    forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT MAX(i) FROM n"
    with pytest.raises(QueryError, match="interrupted"):
        table.run(forever)


def test_results_are_capped(table: Table) -> None:
    many = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 500) SELECT i FROM n"
    )
    assert len(table.run(many).rows) == MAX_ROWS


def test_markdown_puts_the_source_last_and_escapes_cells(table: Table) -> None:
    result = table.run('SELECT _source, "name", "note" FROM data WHERE "name" = \'Banana\'')
    assert markdown(result) == (
        "| name | note | Source |\n|---|---|---|\n| Banana | ripe \\| soft | fruit.csv |"
    )
