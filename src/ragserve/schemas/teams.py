"""Teams (RAGFlow's ``/v1/tenant`` routes): a tenant's members, invitations and memberships."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragserve.schemas.common import required_arguments


class Invite(BaseModel):
    """Body of ``POST /v1/tenant/{tenant_id}/user``."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(max_length=255, description="The email of a registered user.")

    @model_validator(mode="before")
    @classmethod
    def _email_required(cls, data: Any) -> Any:
        required_arguments(data, "email")
        return data


class InvitedUser(BaseModel):
    id: str = Field(description="The invited user's id.")
    email: str
    nickname: str
    avatar: str | None


class TeamMember(BaseModel):
    """A member of the caller's team (its owner is not listed)."""

    id: str = Field(description="The membership's id.")
    user_id: str
    role: str = Field(description="`normal` (joined) or `invite` (not yet agreed).")
    nickname: str
    email: str
    avatar: str | None
    is_active: str = Field(description='"1", or "0" when an administrator disabled the account.')
    status: str
    update_date: str | None = Field(description="RFC 1123, GMT: when the membership last changed.")
    delta_seconds: float = Field(description="Seconds since `update_date`.")


class JoinedTenant(BaseModel):
    """A tenant the caller belongs to or is invited to, described by its owner."""

    tenant_id: str
    role: str = Field(description="`owner` (the caller's own), `normal` or `invite`.")
    nickname: str = Field(description="The tenant owner's nickname.")
    email: str = Field(description="The tenant owner's email.")
    avatar: str | None
    update_date: str | None = Field(description="RFC 1123, GMT: when the membership last changed.")
    delta_seconds: float = Field(description="Seconds since `update_date`.")
