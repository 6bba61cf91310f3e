"""files: the file manager (file, file2document); document.location for converted files

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0016"
down_revision: str | None = "0015"
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
        "file",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=False),
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
        sa.Column("location", sa.String(length=512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_file_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_file_parent_id_name")),
    )
    with op.batch_alter_table("file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "file2document",
        sa.Column("file_id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file.id"], name=op.f("fk_file2document_file_id_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
            name=op.f("fk_file2document_document_id_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file2document")),
    )
    with op.batch_alter_table("file2document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_file2document_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_file2document_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_file2document_file_id"), ["file_id"], unique=False)

    # a document converted from a file reads the file's blob (NULL: its own)
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("location")
    op.drop_table("file2document")
    op.drop_table("file")
