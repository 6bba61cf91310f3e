"""mcp_server: external MCP servers registered by tenants, whose tools agents call

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mcp_server",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("server_type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_mcp_server_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_server")),
    )
    with op.batch_alter_table("mcp_server", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mcp_server_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mcp_server_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_mcp_server_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mcp_server")
