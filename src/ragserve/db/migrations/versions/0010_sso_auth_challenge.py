"""sso: auth_challenge, the short-lived secrets of OAuth sign-in and password reset

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_challenge",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("create_date", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("update_date", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_challenge")),
        sa.UniqueConstraint("kind", "lookup", name=op.f("uq_auth_challenge_kind_lookup")),
    )
    with op.batch_alter_table("auth_challenge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_challenge_create_time"), ["create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auth_challenge_expires_time"), ["expires_time"], unique=False
        )


def downgrade() -> None:
    op.drop_table("auth_challenge")
