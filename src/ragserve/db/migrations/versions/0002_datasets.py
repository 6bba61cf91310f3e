"""datasets and documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:32:43.723202
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=255)
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mariadb"
            )
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mysql"
            ),
            nullable=False,
        ),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("embedding_model", sa.String(length=255), nullable=False),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("similarity_threshold", sa.Float(), nullable=False),
        sa.Column("vector_similarity_weight", sa.Float(), nullable=False),
        sa.Column("chunk_method", sa.String(length=32), nullable=False),
        sa.Column("pipeline_id", sa.String(length=32), nullable=True),
        sa.Column("parser_config", sa.JSON(), nullable=False),
        sa.Column("pagerank", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_dataset_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("tenant_id", "name_key", name=op.f("uq_dataset_tenant_id_name_key")),
    )
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "document",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column(
            "name",
            sa.String(length=255)
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mariadb"
            )
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mysql"
            ),
            nullable=False,
        ),
        sa.Column("name_folded", sa.String(length=255), nullable=False),
        sa.Column("suffix", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("thumbnail", sa.Text(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("chunk_method", sa.String(length=32), nullable=False),
        sa.Column("pipeline_id", sa.String(length=32), nullable=True),
        sa.Column("parser_config", sa.JSON(), nullable=False),
        sa.Column("meta_fields", sa.JSON(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_msg", sa.Text(), nullable=False),
        sa.Column("process_begin_at", sa.DateTime(), nullable=True),
        sa.Column("process_duration", sa.Float(), nullable=False),
        sa.Column("run", sa.String(length=1), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_document_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_document_dataset_id_name")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    for table in ("document", "dataset"):
        op.drop_table(table)
