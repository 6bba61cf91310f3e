"""chats, sessions and tenant models

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:02:54.802432
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "chat",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("llm_id", sa.String(length=255), nullable=False),
        sa.Column("llm_setting", sa.JSON(), nullable=False),
        sa.Column("prompt_type", sa.String(length=16), nullable=False),
        sa.Column("prompt_config", sa.JSON(), nullable=False),
        sa.Column("similarity_threshold", sa.Float(), nullable=False),
        sa.Column("vector_similarity_weight", sa.Float(), nullable=False),
        sa.Column("top_n", sa.Integer(), nullable=False),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("rerank_id", sa.String(length=255), nullable=False),
        sa.Column("do_refer", sa.String(length=1), nullable=False),
        sa.Column("meta_data_filter", sa.JSON(), nullable=False),
        sa.Column("dataset_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_chat_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat")),
        sa.UniqueConstraint("tenant_id", "name_key", name=op.f("uq_chat_tenant_id_name_key")),
    )
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "tenant_model",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("factory", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("model_type", sa.String(length=32), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("api_base", sa.String(length=1024), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("used_tokens", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_tenant_model_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_model")),
        sa.UniqueConstraint(
            "tenant_id", "factory", "name", name=op.f("uq_tenant_model_tenant_id_factory_name")
        ),
    )
    with op.batch_alter_table("tenant_model", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_model_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tenant_model_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "chat_session",
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("answer_references", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chat.id"], name=op.f("fk_chat_session_chat_id_chat"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_session")),
    )
    with op.batch_alter_table("chat_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_session_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_session_create_time"), ["create_time"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop an index a foreign key uses.
    op.drop_table("chat_session")
    op.drop_table("tenant_model")
    op.drop_table("chat")
