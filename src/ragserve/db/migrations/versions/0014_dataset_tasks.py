"""dataset_task: dataset-wide tasks (RAPTOR, GraphRAG); knowledge_graph: a dataset's graph

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_task",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("task_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_msg", sa.Text(), nullable=False),
        sa.Column("begin_at", sa.DateTime(), nullable=True),
        sa.Column("finish_at", sa.DateTime(), nullable=True),
        sa.Column("process_duration", sa.Float(), nullable=False),
        sa.Column("chunk_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_task_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_task")),
    )
    with op.batch_alter_table("dataset_task", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dataset_task_dataset_id_task_type", ["dataset_id", "task_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_task_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dataset_task_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_task_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "knowledge_graph",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("reports", sa.JSON(), nullable=False),
        sa.Column("entity_names", sa.JSON(), nullable=False),
        sa.Column(
            "vectors",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("mind_map", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_knowledge_graph_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_graph")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_knowledge_graph_dataset_id")),
    )
    with op.batch_alter_table("knowledge_graph", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_graph_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_knowledge_graph_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("knowledge_graph")
    op.drop_table("dataset_task")
