"""Alembic environment: ragserve passes its own connection in ``config.attributes``."""

from alembic import context

from ragserve.db import models  # noqa: F401  (registers the tables on Base.metadata)
from ragserve.db.base import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
