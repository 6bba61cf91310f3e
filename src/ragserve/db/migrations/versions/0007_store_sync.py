"""store_sync: chunk-store changes committed but not yet applied

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_sync",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_sync")),
    )
    with op.batch_alter_table("store_sync", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_store_sync_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_store_sync_document_id"), ["document_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("store_sync")
