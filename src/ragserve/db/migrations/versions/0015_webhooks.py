"""webhook_trace (the test webhook's events), webhook_rate (the webhook rate-limit buckets)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _record_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_trace",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["user_canvas.id"],
            name=op.f("fk_webhook_trace_agent_id_user_canvas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_trace")),
    )
    with op.batch_alter_table("webhook_trace", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_trace_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_trace_create_time"), ["create_time"], unique=False
        )
    op.create_table(
        "webhook_rate",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("checked", sa.Float(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["user_canvas.id"],
            name=op.f("fk_webhook_rate_agent_id_user_canvas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_rate")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_webhook_rate_agent_id")),
    )
    with op.batch_alter_table("webhook_rate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_rate_create_time"), ["create_time"], unique=False
        )


def downgrade() -> None:
    op.drop_table("webhook_rate")
    op.drop_table("webhook_trace")
