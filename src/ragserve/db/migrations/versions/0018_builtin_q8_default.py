"""tenants on the builtin all-MiniLM-L6-v2 make new datasets with its int8 variant

Datasets keep the model they were made with; only the tenants' default for new datasets moves to
``all-MiniLM-L6-v2-q8@Builtin`` (the same weights multiplied as int8, 1.7x faster; one vector
space, so old and new datasets are searched together). Data only, no schema change.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "all-MiniLM-L6-v2@Builtin"
NEW = "all-MiniLM-L6-v2-q8@Builtin"


def _move(source: str, target: str) -> None:
    tenant = sa.table("tenant", sa.column("embd_id", sa.String(255)))
    op.execute(tenant.update().where(tenant.c.embd_id == source).values(embd_id=target))


def upgrade() -> None:
    _move(OLD, NEW)


def downgrade() -> None:
    _move(NEW, OLD)
