"""Tables of accounts and credentials. RAGFlow's model: a user owns a tenant with the same id."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ragserve.db.base import ID_LENGTH, Record


class TenantRole(enum.StrEnum):
    OWNER = "owner"
    NORMAL = "normal"
    INVITE = "invite"


class User(Record):
    __tablename__ = "user"

    email: Mapped[str] = mapped_column(String(255), unique=True)
    nickname: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Rotated on every login; the signed web session token carries it.
    access_token: Mapped[str] = mapped_column(String(64), index=True)
    avatar: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str] = mapped_column(String(32), default="English")
    color_schema: Mapped[str] = mapped_column(String(32), default="Bright")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC+8\tAsia/Shanghai")
    last_login_time: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    login_channel: Mapped[str] = mapped_column(String(32), default="password")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)


class Tenant(Record):
    __tablename__ = "tenant"

    name: Mapped[str] = mapped_column(String(255))
    llm_id: Mapped[str] = mapped_column(String(255), default="")
    embd_id: Mapped[str] = mapped_column(String(255), default="")
    asr_id: Mapped[str] = mapped_column(String(255), default="")
    img2txt_id: Mapped[str] = mapped_column(String(255), default="")
    rerank_id: Mapped[str] = mapped_column(String(255), default="")
    tts_id: Mapped[str] = mapped_column(String(255), default="")
    parser_ids: Mapped[str] = mapped_column(String(512), default="")


class UserTenant(Record):
    __tablename__ = "user_tenant"

    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=TenantRole.OWNER)


class ApiToken(Record):
    """An API key. Only a SHA-256 of the secret is stored; ``token_prefix`` is what lists show."""

    __tablename__ = "api_token"

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(32))
    beta_hash: Mapped[str] = mapped_column(String(64), index=True)
    dialog_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    source: Mapped[str | None] = mapped_column(String(16), default=None)
