from __future__ import annotations

import sqlalchemy as sa

from ragserve.db import migrate
from ragserve.db.base import Base
from ragserve.db.engine import make_engine

EXPECTED_TABLES = {
    "user",
    "tenant",
    "user_tenant",
    "api_token",
    "dataset",
    "document",
    "ingest_task",
    "audit_log",
    "system_variable",
    "user_canvas",
    "user_canvas_version",
    "agent_session",
    "auth_challenge",
    "llm_cache",
    "search",
    "memory",
    "memory_message",
}


def test_upgrade_creates_every_table(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert "alembic_version" in tables
    engine.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1
    engine.dispose()


def test_downgrade_then_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert not EXPECTED_TABLES & set(sa.inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= EXPECTED_TABLES
    engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    """Every table and column the models declare exists after migrating: no forgotten migration."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    inspector = sa.inspect(engine)
    for table in Base.metadata.sorted_tables:
        migrated = {column["name"] for column in inspector.get_columns(table.name)}
        assert {column.name for column in table.columns} == migrated, table.name
    engine.dispose()


def test_sqlite_connection_settings(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/pragmas.db")
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10_000
    engine.dispose()


def test_tenants_on_the_builtin_model_move_to_its_int8_variant(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    migrate.upgrade(engine, "0017")
    values = "0, '2026-01-01', 0, '2026-01-01', 't', '', ?, '', '', '', '', ''"
    with engine.begin() as connection:
        for tenant_id, model in (("a", "all-MiniLM-L6-v2@Builtin"), ("b", "bge@OpenAI")):
            connection.exec_driver_sql(
                "INSERT INTO tenant (create_time, create_date, update_time, update_date, name, "
                f"llm_id, embd_id, asr_id, img2txt_id, rerank_id, tts_id, parser_ids, id) "
                f"VALUES ({values}, ?)",
                (model, tenant_id),
            )
    migrate.upgrade(engine)
    query = "SELECT id, embd_id FROM tenant ORDER BY id"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(query).fetchall()
    assert [tuple(row) for row in rows] == [
        ("a", "all-MiniLM-L6-v2-q8@Builtin"),
        ("b", "bge@OpenAI"),
    ]
    migrate.downgrade(engine, "0017")
    with engine.connect() as connection:
        assert connection.exec_driver_sql(query).fetchall()[0][1] == "all-MiniLM-L6-v2@Builtin"
    engine.dispose()
