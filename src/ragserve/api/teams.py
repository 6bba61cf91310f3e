"""Teams, ``/v1/tenant/*``: a tenant's owner invites users, who agree to join; members then see
the tenant's ``team`` datasets (see ``services/teams.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.schemas.teams import Invite, InvitedUser, JoinedTenant, TeamMember
from ragserve.services import teams

router = APIRouter(prefix="/v1/tenant", tags=["teams"], route_class=RagflowRoute)

TenantId = Annotated[str, Path(description="The team's tenant id (its owner's user id).")]


@router.get("/{tenant_id}/user/list", summary="List a team's members")
def list_members(
    runtime: RuntimeDep, caller: WebCaller, tenant_id: TenantId
) -> WebResult[list[TeamMember]]:
    """The members and invited users of the caller's own team; another team's answers 109."""
    with runtime.read() as session:
        return WebResult(data=teams.list_members(session, caller, tenant_id))


@router.post("/{tenant_id}/user", summary="Invite a user to the team")
def invite(
    runtime: RuntimeDep, caller: WebCaller, tenant_id: TenantId, request: Annotated[Invite, Body()]
) -> WebResult[InvitedUser]:
    """Invite a registered user by email; the user joins by agreeing (`/v1/tenant/agree`)."""
    with runtime.transaction() as session:
        return WebResult(data=teams.invite(session, caller, tenant_id, request.email))


@router.delete("/{tenant_id}/user/{user_id}", summary="Remove a member from the team")
def remove(
    runtime: RuntimeDep,
    caller: WebCaller,
    tenant_id: TenantId,
    user_id: Annotated[str, Path(description="The member's user id.")],
) -> WebResult[bool]:
    """The owner removes a member or an invitation (the member loses the team's datasets at
    once), or a member leaves the team."""
    with runtime.transaction() as session:
        teams.remove(session, caller, tenant_id, user_id)
    return WebResult(data=True)


@router.get("/list", summary="List the caller's teams")
def list_tenants(runtime: RuntimeDep, caller: WebCaller) -> WebResult[list[JoinedTenant]]:
    """The caller's own tenant and the teams it joined or is invited to."""
    with runtime.read() as session:
        return WebResult(data=teams.list_tenants(session, caller))


@router.put("/agree/{tenant_id}", summary="Accept an invitation")
def agree(runtime: RuntimeDep, caller: WebCaller, tenant_id: TenantId) -> WebResult[bool]:
    """Join the team that invited the caller."""
    with runtime.transaction() as session:
        teams.agree(session, caller, tenant_id)
    return WebResult(data=True)
