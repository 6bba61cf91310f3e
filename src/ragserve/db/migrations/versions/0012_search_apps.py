"""search: saved search apps (a named search_config per tenant); api_token.beta_secret

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("search_config", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_search_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search")),
    )
    with op.batch_alter_table("search", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_create_time"), ["create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_tenant_id"), ["tenant_id"], unique=False)

    # the beta token, encrypted, so that token listings can show it (NULL: made on the next list)
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("beta_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("beta_secret")
    op.drop_table("search")
