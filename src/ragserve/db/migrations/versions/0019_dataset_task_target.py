"""dataset_task.target: what a task works towards (a re-embedding's target model)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_task", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target", sa.String(length=255), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_task", schema=None) as batch_op:
        batch_op.drop_column("target")
