"""The admin API's users and keys: who may use it, and what an administrator does to accounts.

Roles: ``admin`` (a superuser) or ``user``, on the whole system; per tenant, ``owner``,
``normal`` or ``invite`` as before. Only an active superuser passes ``require_admin``. An
administrator cannot delete, deactivate or demote their own account, so the last
administrator cannot lock everyone out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ragserve.db.models import Agent, ApiToken, Dataset, Tenant, User, UserTenant
from ragserve.errors import (
    AuthenticationError,
    DataError,
    Forbidden,
    NotAdministrator,
    OperatingError,
    RagserveError,
    Unauthorized,
)
from ragserve.runtime import Runtime
from ragserve.schemas.admin import (
    AdminAgent,
    AdminDataset,
    AdminKey,
    AdminUser,
    RolePublic,
    SystemRole,
    UserPermissions,
)
from ragserve.security import SessionSigner, hash_password, new_access_token, verify_password
from ragserve.services import audit, datasets, tokens, users, variables
from ragserve.services.auth import authenticate_web
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.timeutil import rfc1123, utc_now

logger = logging.getLogger(__name__)

NO_ADMINISTRATOR = (
    "No administrator exists yet: create one with `ragserve user create --superuser`, or set "
    "`admin_email` and `admin_password_file`."
)
BAD_CREDENTIALS = "Email and password do not match!"

PERMISSIONS = {
    SystemRole.ADMIN: [
        "admin:users",
        "admin:keys",
        "admin:services",
        "admin:variables",
        "admin:audit",
        "tenant:own",
    ],
    SystemRole.USER: ["tenant:own"],
}
ROLE_DESCRIPTIONS = {
    SystemRole.ADMIN: "A superuser: the admin API, plus everything a user may do.",
    SystemRole.USER: "The user API on the tenants the user owns or belongs to "
    "(owner, normal or invited member).",
}


@dataclass(frozen=True)
class Admin:
    """An authenticated administrator."""

    user_id: str
    email: str

    def actor(self, client_address: str) -> audit.Actor:
        return audit.Actor(self.user_id, self.email, client_address)


def role_of(user: User) -> SystemRole:
    return SystemRole.ADMIN if user.is_superuser else SystemRole.USER


def _administrator_exists(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.is_superuser.is_(True)).limit(1)) is not None


def require_admin(
    runtime: Runtime, authorization: str | None, signer: SessionSigner, client_address: str
) -> Admin:
    """The active superuser behind a web session token or an API key; a valid credential of
    anyone else is refused (HTTP 403) and logged."""
    with runtime.read() as session:
        if not _administrator_exists(session):
            raise NotAdministrator(NO_ADMINISTRATOR)
        caller = authenticate_web(session, authorization, signer)
        user = session.get(User, caller.user_id)
        if user is not None and user.is_superuser and user.is_active:
            return Admin(user.id, user.email)
        email = user.email if user is not None else ""
    audit.write(
        runtime, audit.Actor(caller.user_id, email, client_address), "auth", outcome="refused"
    )
    raise NotAdministrator("The admin API is for administrators only.")


def login(runtime: Runtime, email: str, password: str, client_address: str) -> tuple[User, str]:
    """Check an administrator's password and start a new web session (the user's older
    session token stops working, as with ``/v1/user/login``); the user and its access token."""
    attempt = audit.Actor("", email, client_address)
    try:
        with runtime.transaction() as session:
            if not _administrator_exists(session):
                raise NotAdministrator(NO_ADMINISTRATOR)
            user = users.find_user_by_email(session, email)
            if user is None or not verify_password(user.password_hash, password):
                raise AuthenticationError(BAD_CREDENTIALS)
            if not user.is_superuser:
                raise NotAdministrator("The admin API is for administrators only.")
            if not user.is_active:
                raise Forbidden("This account has been disabled, please contact the administrator!")
            user.access_token = new_access_token()
            user.last_login_time = utc_now().replace(tzinfo=None)
            session.flush()
            audit.record(session, audit.Actor(user.id, user.email, client_address), "login")
            return user, user.access_token
    except RagserveError as error:
        audit.write(runtime, attempt, "login", detail=error.message, outcome="refused")
        raise


def check_basic(session: Session, email: str, password: str) -> Admin:
    """HTTP Basic credentials of an active administrator, without starting a session."""
    user = users.find_user_by_email(session, email)
    if user is None or not verify_password(user.password_hash, password):
        raise Unauthorized(BAD_CREDENTIALS)
    if not (user.is_superuser and user.is_active):
        raise NotAdministrator("The admin API is for administrators only.")
    return Admin(user.id, user.email)


def logout(session: Session, admin: Admin) -> None:
    users.logout(session, Caller(admin.user_id, admin.user_id, CredentialKind.SESSION))


# --- users -------------------------------------------------------------------------------------


def _user(session: Session, email: str) -> User:
    user = users.find_user_by_email(session, email)
    if user is None:
        raise DataError(f"User '{email}' not found!")
    return user


def public(session: Session, user: User) -> AdminUser:
    dataset_count = session.scalar(
        select(func.count(Dataset.id)).where(Dataset.tenant_id == user.id)
    )
    key_count = session.scalar(select(func.count(ApiToken.id)).where(ApiToken.tenant_id == user.id))
    return AdminUser(
        id=user.id,
        email=user.email,
        nickname=user.nickname,
        role=role_of(user),
        is_superuser=user.is_superuser,
        is_active=user.is_active,
        create_time=user.create_time,
        create_date=rfc1123(user.create_date),
        last_login_time=rfc1123(user.last_login_time),
        dataset_count=dataset_count or 0,
        api_key_count=key_count or 0,
    )


def list_users(session: Session) -> list[AdminUser]:
    return [public(session, user) for user in users.list_users(session)]


def show_user(session: Session, email: str) -> AdminUser:
    return public(session, _user(session, email))


def create_user(
    runtime: Runtime,
    session: Session,
    *,
    email: str,
    password: str,
    role: SystemRole,
    nickname: str | None = None,
) -> AdminUser:
    if not password:
        raise DataError("Password can't be empty!")
    user = users.create_account(
        session,
        email=email,
        nickname=nickname or email.split("@")[0],
        password=password,
        defaults=variables.tenant_defaults(session, runtime.settings),
        superuser=role is SystemRole.ADMIN,
    )
    return public(session, user)


def _not_yourself(admin: Admin, user: User, what: str) -> None:
    if user.id == admin.user_id:
        raise OperatingError(f"An administrator cannot {what} their own account.")


def delete_user(runtime: Runtime, admin: Admin, email: str) -> None:
    """Delete the user and everything their tenant owns: datasets with their documents,
    chunks and files (through the dataset deletion, which keeps the chunk store in step),
    chats and their sessions, models, API keys, memberships. Documents the user uploaded to
    other tenants' datasets belong to those tenants and stay."""
    with runtime.read() as session:
        user = _user(session, email)
        _not_yourself(admin, user, "delete")
        user_id = user.id
    owner = Caller(user_id, user_id, CredentialKind.SESSION)
    datasets.delete_datasets(runtime, owner, None)
    with runtime.transaction() as session:
        # the tenant's rows go with it (foreign keys with ON DELETE CASCADE)
        session.execute(delete(UserTenant).where(UserTenant.tenant_id == user_id))
        session.execute(delete(Tenant).where(Tenant.id == user_id))
        session.execute(delete(User).where(User.id == user_id))
    runtime.blobs.delete_prefix(user_id)  # anything left under the tenant's prefix


def set_password(session: Session, email: str, password: str) -> None:
    """Set the password and end the user's web session (API keys keep working)."""
    if not password:
        raise DataError("Password can't be empty!")
    user = _user(session, email)
    user.password_hash = hash_password(password)
    user.access_token = "INVALID_" + new_access_token()
    session.flush()


def set_active(session: Session, admin: Admin, email: str, *, active: bool) -> None:
    user = _user(session, email)
    if not active:
        _not_yourself(admin, user, "deactivate")
    user.is_active = active
    session.flush()


def set_admin(session: Session, admin: Admin, email: str, *, grant: bool) -> None:
    user = _user(session, email)
    if not grant:
        _not_yourself(admin, user, "revoke the admin role of")
    user.is_superuser = grant
    session.flush()


def user_datasets(session: Session, email: str) -> list[AdminDataset]:
    user = _user(session, email)
    rows = list(
        session.scalars(
            select(Dataset).where(Dataset.tenant_id == user.id).order_by(Dataset.create_time)
        )
    )
    stats = datasets.stats_for(session, [row.id for row in rows])
    return [
        AdminDataset(
            id=row.id,
            name=row.name,
            permission=row.permission,
            chunk_method=row.chunk_method,
            embedding_model=row.embedding_model,
            document_count=stats.get(row.id, datasets.DatasetStats()).document_count,
            chunk_count=stats.get(row.id, datasets.DatasetStats()).chunk_count,
            create_time=row.create_time,
            create_date=rfc1123(row.create_date),
        )
        for row in rows
    ]


def user_agents(session: Session, email: str) -> list[AdminAgent]:
    """The agents of the user's own tenant, oldest first."""
    user = _user(session, email)
    rows = session.execute(
        select(Agent.id, Agent.title, Agent.create_time)
        .where(Agent.tenant_id == user.id)
        .order_by(Agent.create_time)
    ).all()
    return [AdminAgent(id=id_, title=title, create_time=created) for id_, title, created in rows]


def roles() -> list[RolePublic]:
    return [
        RolePublic(
            role_name=role, description=ROLE_DESCRIPTIONS[role], permissions=PERMISSIONS[role]
        )
        for role in SystemRole
    ]


def permissions(session: Session, email: str) -> UserPermissions:
    user = _user(session, email)
    memberships = session.execute(
        select(UserTenant.tenant_id, UserTenant.role).where(UserTenant.user_id == user.id)
    ).all()
    return UserPermissions(
        email=user.email,
        role=role_of(user),
        permissions=PERMISSIONS[role_of(user)],
        tenants=[{"tenant_id": tenant, "role": role} for tenant, role in memberships],
    )


# --- API keys ----------------------------------------------------------------------------------


def _owner(session: Session, email: str) -> Caller:
    user = _user(session, email)
    return Caller(user.id, user.id, CredentialKind.SESSION)


def _key(record: ApiToken, token: str) -> AdminKey:
    return AdminKey(
        token=token,
        tenant_id=record.tenant_id,
        create_time=record.create_time,
        create_date=rfc1123(record.create_date),
    )


def generate_key(session: Session, email: str) -> AdminKey:
    made = tokens.create_token(session, _owner(session, email))
    return _key(made.record, made.token)


def list_keys(session: Session, email: str) -> list[AdminKey]:
    return [
        _key(record, record.token_prefix)
        for record in tokens.list_tokens(session, _owner(session, email))
    ]


def delete_key(session: Session, email: str, key: str) -> None:
    tokens.revoke_token(session, _owner(session, email), key)


# --- the first administrator -------------------------------------------------------------------


def ensure_first_admin(runtime: Runtime) -> None:
    """With ``admin_email`` set and no administrator yet: make that account (or promote it, with
    the password of ``admin_password_file``). Never a default password."""
    settings = runtime.settings
    if settings.admin_email is None or settings.admin_password_file is None:
        return
    try:
        lines = settings.admin_password_file.read_text().splitlines()
    except OSError as error:
        raise OperatingError(f"Cannot read admin_password_file: {error}") from error
    password = lines[0].strip() if lines else ""
    if not password:
        raise OperatingError(f"{settings.admin_password_file} holds no password.")
    with runtime.transaction() as session:
        if _administrator_exists(session):
            return
        user = users.find_user_by_email(session, settings.admin_email)
        if user is None:
            create_user(
                runtime,
                session,
                email=settings.admin_email,
                password=password,
                role=SystemRole.ADMIN,
            )
        else:
            user.is_superuser, user.is_active = True, True
            user.password_hash = hash_password(password)
            session.flush()
        audit.record(
            session, audit.Actor("", "(settings)"), "user.create_admin", target=settings.admin_email
        )
    logger.warning("made %s the first administrator (setting admin_email)", settings.admin_email)
