"""Teams: a tenant's owner invites registered users, who join by agreeing (RAGFlow's
``/v1/tenant`` routes over the ``user_tenant`` table, roles ``owner``/``normal``/``invite``).

Membership is read from the database on every request (``datasets.visible_to``), and no cache
holds it: a removal or an agreement counts from the next request on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ragserve.db.models import TenantRole, User, UserTenant
from ragserve.domain import Validity
from ragserve.errors import AuthenticationError, DataError
from ragserve.schemas.teams import InvitedUser, JoinedTenant, TeamMember
from ragserve.services.tenancy import Caller
from ragserve.services.users import find_user_by_email
from ragserve.timeutil import rfc1123

NO_AUTHORIZATION = "No authorization."


def _require_owner(caller: Caller, tenant_id: str) -> None:
    """Only the tenant's owner (whose user id is the tenant id) manages its team."""
    if caller.user_id != tenant_id:
        raise AuthenticationError(NO_AUTHORIZATION, data=False)


def _seconds_since(moment: datetime) -> float:
    when = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - when).total_seconds(), 3)


def list_members(session: Session, caller: Caller, tenant_id: str) -> list[TeamMember]:
    """The team's members and invited users, oldest first (the owner is not listed)."""
    _require_owner(caller, tenant_id)
    rows = session.execute(
        select(UserTenant, User)
        .join(User, User.id == UserTenant.user_id)
        .where(UserTenant.tenant_id == tenant_id, UserTenant.role != TenantRole.OWNER)
        .order_by(UserTenant.create_time, UserTenant.id)
    ).all()
    return [
        TeamMember(
            id=link.id,
            user_id=user.id,
            role=link.role,
            nickname=user.nickname,
            email=user.email,
            avatar=user.avatar,
            is_active=Validity.VALID if user.is_active else Validity.INVALID,
            status=Validity.VALID,
            update_date=rfc1123(link.update_date),
            delta_seconds=_seconds_since(link.update_date),
        )
        for link, user in rows
    ]


def invite(session: Session, caller: Caller, tenant_id: str, email: str) -> InvitedUser:
    """Invite a registered user: a membership with the role ``invite``, which gives nothing
    until the user agrees."""
    _require_owner(caller, tenant_id)
    user = find_user_by_email(session, email.strip())
    if user is None:
        raise DataError("User not found.")
    existing = session.scalars(
        select(UserTenant).where(UserTenant.tenant_id == tenant_id, UserTenant.user_id == user.id)
    ).first()
    if existing is not None:
        if existing.role == TenantRole.NORMAL:
            raise DataError(f"{email} is already in the team.")
        if existing.role == TenantRole.OWNER:
            raise DataError(f"{email} is the owner of the team.")
        raise DataError(f"{email} is in the team, but the role: {existing.role} is invalid.")
    session.add(UserTenant(user_id=user.id, tenant_id=tenant_id, role=TenantRole.INVITE))
    session.flush()
    return InvitedUser(id=user.id, email=user.email, nickname=user.nickname, avatar=user.avatar)


def remove(session: Session, caller: Caller, tenant_id: str, user_id: str) -> None:
    """The owner removes a member or an invitation, or a member leaves; the owner cannot
    leave its own tenant."""
    if caller.user_id not in (tenant_id, user_id):
        raise AuthenticationError(NO_AUTHORIZATION, data=False)
    if user_id == tenant_id:
        raise DataError("The owner can't leave the team.")
    removed = session.execute(
        delete(UserTenant).where(
            UserTenant.tenant_id == tenant_id,
            UserTenant.user_id == user_id,
            UserTenant.role != TenantRole.OWNER,
        )
    )
    if removed.rowcount == 0:  # type: ignore[attr-defined]
        raise DataError("User not found in the team.")


def list_tenants(session: Session, caller: Caller) -> list[JoinedTenant]:
    """The caller's own tenant, then the tenants it joined or is invited to, with their
    owners' names."""
    rows = session.execute(
        select(UserTenant, User)
        .join(User, User.id == UserTenant.tenant_id)
        .where(UserTenant.user_id == caller.user_id)
        .order_by(UserTenant.role != TenantRole.OWNER, UserTenant.create_time, UserTenant.id)
    ).all()
    return [
        JoinedTenant(
            tenant_id=link.tenant_id,
            role=link.role,
            nickname=owner.nickname,
            email=owner.email,
            avatar=owner.avatar,
            update_date=rfc1123(link.update_date),
            delta_seconds=_seconds_since(link.update_date),
        )
        for link, owner in rows
    ]


def agree(session: Session, caller: Caller, tenant_id: str) -> None:
    """Accept an invitation: the role becomes ``normal``, and the team's ``team`` datasets
    become visible. Agreeing again changes nothing."""
    link = session.scalars(
        select(UserTenant).where(
            UserTenant.tenant_id == tenant_id, UserTenant.user_id == caller.user_id
        )
    ).first()
    if link is None:
        raise DataError("You have no invitation to this team.")
    if link.role == TenantRole.INVITE:
        link.role = TenantRole.NORMAL
        session.flush()
