"""Who is calling, and the one place that scopes queries to the caller's tenants.

Every service that reads or writes tenant data takes a ``Caller`` and goes through these
helpers, so that another tenant's ids behave exactly like ids that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from ragserve.db.models import TenantRole, UserTenant


class CredentialKind(StrEnum):
    API_TOKEN = "api_token"  # noqa: S105  (a name, not a secret)
    SESSION = "session"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller. With an API token, ``user_id`` is the token's tenant id
    (RAGFlow's model: the owner's user id equals the tenant id)."""

    user_id: str
    tenant_id: str
    credential: CredentialKind


RowT = TypeVar("RowT")


def owned_by(model: Any, caller: Caller) -> ColumnElement[bool]:
    """The filter clause that keeps rows of ``model`` owned by the caller's tenant."""
    clause: ColumnElement[bool] = model.tenant_id == caller.tenant_id
    return clause


def scoped(model: type[RowT], caller: Caller) -> Select[RowT]:
    """``select(model)`` restricted to the caller's own tenant."""
    return select(model).where(owned_by(model, caller))


def get_owned(session: Session, model: type[RowT], row_id: str, caller: Caller) -> RowT | None:
    """The row with ``row_id`` if the caller's tenant owns it; ``None`` otherwise, whether it
    belongs to someone else or does not exist."""
    return session.scalars(scoped(model, caller).where(model.id == row_id)).first()  # type: ignore[attr-defined]


def member_tenant_ids(session: Session, caller: Caller) -> list[str]:
    """Tenants the caller belongs to (owner or normal member), the caller's own first."""
    rows = session.scalars(
        select(UserTenant.tenant_id).where(
            UserTenant.user_id == caller.user_id,
            UserTenant.role.in_([TenantRole.OWNER, TenantRole.NORMAL]),
        )
    ).all()
    others = sorted(tenant for tenant in rows if tenant != caller.tenant_id)
    return [caller.tenant_id, *others]
