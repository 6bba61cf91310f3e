"""page-range ingest tasks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:12:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_task", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parse_id", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("from_page", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("to_page", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("progress", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "result",
                sa.LargeBinary()
                .with_variant(mysql.LONGBLOB(), "mariadb")
                .with_variant(mysql.LONGBLOB(), "mysql"),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_ingest_task_parse_id"), ["parse_id"], unique=False)
    # Each task queued before this revision was a parse of its own.
    op.execute("UPDATE ingest_task SET parse_id = id")


def downgrade() -> None:
    with op.batch_alter_table("ingest_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_task_parse_id"))
        batch_op.drop_column("result")
        batch_op.drop_column("progress")
        batch_op.drop_column("to_page")
        batch_op.drop_column("from_page")
        batch_op.drop_column("parse_id")
