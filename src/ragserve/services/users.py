"""Accounts: registration, login and logout, profile and tenant settings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ragserve.db.models import Tenant, TenantRole, User, UserTenant
from ragserve.domain import Validity
from ragserve.errors import AuthenticationError, DataError, Forbidden, OperatingError
from ragserve.runtime import TenantDefaults
from ragserve.schemas.users import (
    PROFILE_FIELDS,
    TENANT_MODEL_FIELDS,
    Register,
    TenantInfo,
    TenantSettings,
    UserPublic,
    UserSetting,
)
from ragserve.security import hash_password, new_access_token, verify_password
from ragserve.services.tenancy import Caller
from ragserve.timeutil import new_id, rfc1123, utc_now

EMAIL_PATTERN = re.compile(r"^[\w\._-]+@([\w_-]+\.)+[\w-]{2,}$")
DEFAULT_PARSER_IDS = (
    "naive:General,qa:Q&A,resume:Resume,manual:Manual,table:Table,paper:Paper,book:Book,"
    "laws:Laws,presentation:Presentation,picture:Picture,one:One,audio:Audio,email:Email,tag:Tag"
)


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()


def create_account(
    session: Session,
    *,
    email: str,
    nickname: str,
    password: str,
    defaults: TenantDefaults,
    superuser: bool = False,
) -> User:
    """A user, the tenant it owns (same id) and the owner link between them."""
    if not EMAIL_PATTERN.match(email):
        raise OperatingError(f"Invalid email address: {email}!")
    if find_user_by_email(session, email) is not None:
        raise OperatingError(f"Email: {email} has already registered!")
    user_id = new_id()
    user = User(
        id=user_id,
        email=email,
        nickname=nickname,
        password_hash=hash_password(password),
        access_token=new_access_token(),
        is_superuser=superuser,
    )
    tenant = Tenant(
        id=user_id,
        name=f"{nickname}‘s Kingdom",
        llm_id=defaults.llm_id,
        embd_id=defaults.embd_id,
        parser_ids=DEFAULT_PARSER_IDS,
    )
    session.add_all([user, tenant])
    session.flush()
    session.add(UserTenant(user_id=user_id, tenant_id=user_id, role=TenantRole.OWNER))
    session.flush()
    return user


def login(session: Session, *, email: str, password: str) -> User:
    """Check the password and start a new session (older session tokens stop working)."""
    user = find_user_by_email(session, email)
    if user is None:
        raise AuthenticationError(f"Email: {email} is not registered!")
    if not verify_password(user.password_hash, password):
        raise AuthenticationError("Email and password do not match!")
    if not user.is_active:
        raise Forbidden("This account has been disabled, please contact the administrator!")
    user.access_token = new_access_token()
    user.last_login_time = utc_now().replace(tzinfo=None)
    session.flush()
    return user


def logout(session: Session, caller: Caller) -> None:
    user = session.get(User, caller.user_id)
    if user is not None:
        user.access_token = "INVALID_" + new_access_token()
        session.flush()


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise DataError("User not found!")
    return user


def update_profile(
    session: Session,
    caller: Caller,
    changes: UserSetting,
    *,
    password: str | None = None,
    new_password: str | None = None,
) -> User:
    """Change the profile fields given, and the password when the current one is given and
    right (``password``/``new_password``: the plain texts of ``changes``' passwords)."""
    user = get_user(session, caller.user_id)
    if new_password is not None:
        if password is None or not verify_password(user.password_hash, password):
            raise AuthenticationError("Password error!")
        user.password_hash = hash_password(new_password)
    for field, value in changes.model_dump(include=set(PROFILE_FIELDS), exclude_unset=True).items():
        if value is None and field != "avatar":  # only the avatar can be cleared; null keeps
            continue
        setattr(user, field, value)
    session.flush()
    return user


def set_active(session: Session, email: str, *, active: bool) -> User:
    user = find_user_by_email(session, email)
    if user is None:
        raise DataError(f"Email: {email} is not registered!")
    user.is_active = active
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.create_time)))


def delete_user(session: Session, email: str) -> None:
    """Remove the user and the tenant it owns; the tenant's tokens and links go with it."""
    user = find_user_by_email(session, email)
    if user is None:
        raise DataError(f"Email: {email} is not registered!")
    session.execute(delete(Tenant).where(Tenant.id == user.id))
    session.execute(delete(User).where(User.id == user.id))
    session.flush()


def owner_tenant(session: Session, caller: Caller) -> Tenant:
    tenant = session.get(Tenant, caller.tenant_id)
    if tenant is None:
        raise DataError("Tenant not found!")
    return tenant


def set_tenant_models(session: Session, caller: Caller, settings: TenantSettings) -> Tenant:
    """Set the default models given of a tenant the caller owns; any other id is 'not found'."""
    owned = session.scalars(
        select(UserTenant.tenant_id).where(
            UserTenant.user_id == caller.user_id,
            UserTenant.tenant_id == settings.tenant_id,
            UserTenant.role == TenantRole.OWNER,
        )
    ).first()
    tenant = session.get(Tenant, settings.tenant_id) if owned else None
    if tenant is None:
        raise DataError("Tenant not found!")
    given = settings.model_dump(include=set(TENANT_MODEL_FIELDS), exclude_unset=True)
    for field, model_id in given.items():
        setattr(tenant, field, model_id)
    session.flush()
    return tenant


@dataclass(frozen=True)
class SignedIn:
    """A user who just logged in: what to show, and the new session's access token (the web
    session token is its signature)."""

    user: UserPublic
    access_token: str


def sign_in(session: Session, *, email: str, password: str) -> SignedIn:
    """``login``, answered as RAGFlow shows the user."""
    user = login(session, email=email, password=password)
    return SignedIn(public(user), user.access_token)


def register(
    session: Session, request: Register, *, password: str, defaults: TenantDefaults
) -> SignedIn:
    """A new account (``password``: the plain text of the request's), logged in."""
    create_account(
        session,
        email=request.email,
        nickname=request.nickname,
        password=password,
        defaults=defaults,
    )
    return sign_in(session, email=request.email, password=password)


def public(user: User) -> UserPublic:
    """The user as RAGFlow shows it, less the password hash and the access token."""
    return UserPublic(
        id=user.id,
        nickname=user.nickname,
        email=user.email,
        avatar=user.avatar,
        language=user.language,
        color_schema=user.color_schema,
        timezone=user.timezone,
        last_login_time=rfc1123(user.last_login_time),
        is_authenticated=Validity.VALID,
        is_active=Validity.VALID if user.is_active else Validity.INVALID,
        is_anonymous=Validity.INVALID,
        login_channel=user.login_channel,
        status=Validity.VALID,
        is_superuser=user.is_superuser,
        create_time=user.create_time,
        create_date=rfc1123(user.create_date),
        update_time=user.update_time,
        update_date=rfc1123(user.update_date),
    )


def tenant_info(tenant: Tenant) -> TenantInfo:
    """The caller's own tenant as ``tenant_info`` shows it."""
    return TenantInfo(
        tenant_id=tenant.id,
        name=tenant.name,
        llm_id=tenant.llm_id,
        embd_id=tenant.embd_id,
        rerank_id=tenant.rerank_id,
        asr_id=tenant.asr_id,
        img2txt_id=tenant.img2txt_id,
        tts_id=tenant.tts_id,
        parser_ids=tenant.parser_ids,
        role=TenantRole.OWNER,
    )
