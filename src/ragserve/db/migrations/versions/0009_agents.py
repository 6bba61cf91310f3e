"""agents: user_canvas, user_canvas_version, agent_session

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
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
        "user_canvas",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("title_key", sa.String(length=64), nullable=False),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.Column("canvas_type", sa.String(length=32), nullable=True),
        sa.Column("canvas_category", sa.String(length=32), nullable=False),
        sa.Column("dsl", sa.JSON(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_user_canvas_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_canvas")),
        sa.UniqueConstraint(
            "tenant_id", "title_key", name=op.f("uq_user_canvas_tenant_id_title_key")
        ),
    )
    with op.batch_alter_table("user_canvas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_canvas_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_canvas_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "user_canvas_version",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("dsl", sa.JSON(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["user_canvas.id"],
            name=op.f("fk_user_canvas_version_agent_id_user_canvas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_canvas_version")),
    )
    with op.batch_alter_table("user_canvas_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_canvas_version_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_canvas_version_create_time"), ["create_time"], unique=False
        )

    op.create_table(
        "agent_session",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("dsl", sa.JSON(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("thumb_up", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["user_canvas.id"],
            name=op.f("fk_agent_session_agent_id_user_canvas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_session")),
    )
    with op.batch_alter_table("agent_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_session_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agent_session_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agent_session_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop an index a foreign key uses.
    op.drop_table("agent_session")
    op.drop_table("user_canvas_version")
    op.drop_table("user_canvas")
