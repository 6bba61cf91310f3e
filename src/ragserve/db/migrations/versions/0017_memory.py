"""memory, memory_message: agent memories and their messages (RAGFlow 0.23's memory API)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "memory",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("memory_type", sa.Integer(), nullable=False),
        sa.Column("storage_type", sa.String(length=16), nullable=False),
        sa.Column("embd_id", sa.String(length=255), nullable=False),
        sa.Column("llm_id", sa.String(length=255), nullable=False),
        sa.Column("permissions", sa.String(length=16), nullable=False),
        sa.Column("memory_size", sa.BigInteger(), nullable=False),
        sa.Column("forgetting_policy", sa.String(length=16), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("user_prompt", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_memory_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory")),
    )
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memory_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_memory_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_memory_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "memory_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("memory_id", sa.String(length=32), nullable=False),
        sa.Column("message_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("agent_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("content", LONG_TEXT, nullable=False),
        sa.Column("tokens", LONG_TEXT, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("valid_at", sa.DateTime(), nullable=True),
        sa.Column("invalid_at", sa.DateTime(), nullable=True),
        sa.Column("forget_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.Boolean(), nullable=False),
        sa.Column("extraction", sa.String(length=16), nullable=False),
        sa.Column("extraction_error", sa.Text(), nullable=False),
        sa.Column("extraction_lease", sa.BigInteger(), nullable=False),
        sa.Column("extraction_attempts", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["memory_id"],
            ["memory.id"],
            name=op.f("fk_memory_message_memory_id_memory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_message")),
    )
    with op.batch_alter_table("memory_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memory_message_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_memory_message_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_memory_message_memory_id"), ["memory_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_memory_message_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("memory_message")
    op.drop_table("memory")
