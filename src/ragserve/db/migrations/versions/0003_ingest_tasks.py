"""ingest tasks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:59:55.741820
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_task",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
            name=op.f("fk_ingest_task_document_id_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_task")),
    )
    with op.batch_alter_table("ingest_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_task_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ingest_task_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ingest_task_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("ingest_task")
