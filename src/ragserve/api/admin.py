"""``/api/v1/admin``: the admin API (spec C.1), for active superusers only.

Credentials: the session token that ``POST /login`` (or ``/v1/user/login``) returns, sent as
it is in ``Authorization``, or ``Bearer <API key>`` of an administrator's tenant. Every call
that passes is written to the audit log, failed or not (``GET /audit`` lists it); a valid
credential of a non-administrator is refused with HTTP 403 and logged as ``refused``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from ragserve import __version__
from ragserve.api.body import RagflowRoute
from ragserve.api.deps import AuthorizationHeader, RuntimeDep
from ragserve.api.envelope import WebResult
from ragserve.errors import Unauthorized
from ragserve.runtime import Runtime
from ragserve.schemas.admin import (
    AdminAgent,
    AdminDataset,
    AdminKey,
    AdminLogin,
    AdminUser,
    AuditPage,
    AuditQuery,
    ConfigEntry,
    CreateUser,
    EnvironmentEntry,
    RolePublic,
    ServiceDetail,
    ServicePublic,
    SetActive,
    SetPassword,
    SetRole,
    SetVariable,
    SystemRole,
    UserPermissions,
    VariablePublic,
    VariableQuery,
    VersionPublic,
)
from ragserve.services import admin, admin_system, audit, variables

PREFIX = "/api/v1/admin"
router = APIRouter(prefix=PREFIX, tags=["admin"], route_class=RagflowRoute)

Email = Annotated[str, Path(description="The user's e-mail (RAGFlow's `username`).")]


@dataclass(frozen=True)
class AdminContext:
    """The administrator calling, and where from: what the audit log records."""

    runtime: Runtime
    admin: admin.Admin
    client_address: str

    def audited(
        self, action: str, target: str = "", detail: str = ""
    ) -> AbstractContextManager[None]:
        return audit.audited(
            self.runtime,
            self.admin.actor(self.client_address),
            action,
            target=target,
            detail=detail,
        )

    @contextmanager
    def writing(self, action: str, target: str = "", detail: str = "") -> Iterator[Session]:
        """A write transaction for the action, logged once it committed (or failed)."""
        with self.audited(action, target, detail), self.runtime.transaction() as session:
            yield session

    @contextmanager
    def reading(self, action: str, target: str = "") -> Iterator[Session]:
        with self.audited(action, target), self.runtime.read() as session:
            yield session


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def admin_context(
    runtime: RuntimeDep, request: Request, authorization: AuthorizationHeader
) -> AdminContext:
    address = _client_address(request)
    caller = admin.require_admin(runtime, authorization, runtime.signer, address)
    return AdminContext(runtime, caller, address)


AdminDep = Annotated[AdminContext, Depends(admin_context)]


# --- authentication ----------------------------------------------------------------------------


@router.get("/ping", response_class=PlainTextResponse, summary="Liveness")
def ping() -> str:
    """`PONG`, without credentials."""
    return "PONG"


@router.post("/login", summary="Log in as an administrator")
def login(
    runtime: RuntimeDep,
    request: Request,
    body: Annotated[AdminLogin, Body()],
    response: Response,
) -> WebResult[AdminUser]:
    """Start a web session for an active superuser: the response's `Authorization` header is
    the session token, to send back as it is. Anyone else is refused (109 for a wrong e-mail
    or password, 403 for a non-administrator) and the attempt is logged."""
    password = runtime.passwords.plain_text(body.password)
    user, access_token = admin.login(runtime, body.email, password, _client_address(request))
    response.headers["Authorization"] = runtime.signer.sign(access_token)
    response.headers["Access-Control-Expose-Headers"] = "Authorization"
    with runtime.read() as session:
        return WebResult(data=admin.show_user(session, user.email), message="Welcome back!")


@router.get("/logout", summary="Log out")
def logout(context: AdminDep) -> WebResult[bool]:
    """End the administrator's web session (API keys keep working)."""
    with context.writing("logout") as session:
        admin.logout(session, context.admin)
    return WebResult(data=True)


@router.get("/auth", summary="Check administrator credentials")
def auth(
    runtime: RuntimeDep, request: Request, authorization: AuthorizationHeader
) -> WebResult[AdminUser]:
    """HTTP Basic `email:password` (as RAGFlow's admin CLI checks them, without starting a
    session), or any credential the other routes take; answers the administrator."""
    basic = _basic(authorization)
    if basic is not None:
        with runtime.read() as session:
            caller = admin.check_basic(session, *basic)
    else:
        caller = admin.require_admin(
            runtime, authorization, runtime.signer, _client_address(request)
        )
    context = AdminContext(runtime, caller, _client_address(request))
    with context.audited("auth"), runtime.read() as session:
        return WebResult(data=admin.show_user(session, caller.email))


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Unauthorized", data=None) from None
    email, separator, password = decoded.partition(":")
    if not separator:
        raise Unauthorized("Unauthorized", data=None)
    return email, password


# --- users -------------------------------------------------------------------------------------


@router.get("/users", summary="List users")
def list_users(context: AdminDep) -> WebResult[list[AdminUser]]:
    """Every user, oldest first, with role, state and counts."""
    with context.reading("user.list") as session:
        return WebResult(data=admin.list_users(session))


@router.post("/users", summary="Create a user")
def create_user(context: AdminDep, body: Annotated[CreateUser, Body()]) -> WebResult[AdminUser]:
    """A user with a tenant of its own; `role: admin` makes a superuser. The tenant starts
    with the models of the variables `new_tenant_chat_model`/`new_tenant_embedding_model`."""
    password = context.runtime.passwords.plain_text(body.password)
    with context.writing("user.create", body.username, f"role={body.role}") as session:
        created = admin.create_user(
            context.runtime,
            session,
            email=body.username,
            password=password,
            role=body.role,
            nickname=body.nickname,
        )
    return WebResult(data=created)


@router.get("/users/{email}", summary="Show a user")
def show_user(context: AdminDep, email: Email) -> WebResult[AdminUser]:
    with context.reading("user.show", email) as session:
        return WebResult(data=admin.show_user(session, email))


@router.delete("/users/{email}", summary="Delete a user and all their data")
def delete_user(context: AdminDep, email: Email) -> WebResult[bool]:
    """The user, their tenant and everything it owns: datasets, documents, chunks, files,
    chats and sessions, models, API keys. An administrator cannot delete themselves."""
    with context.audited("user.delete", email):
        admin.delete_user(context.runtime, context.admin, email)
    return WebResult(data=True)


@router.put("/users/{email}/password", summary="Set a user's password")
def set_password(
    context: AdminDep, email: Email, body: Annotated[SetPassword, Body()]
) -> WebResult[bool]:
    """Also ends the user's web session; their API keys keep working."""
    password = context.runtime.passwords.plain_text(body.new_password)
    with context.writing("user.password", email) as session:
        admin.set_password(session, email, password)
    return WebResult(data=True)


@router.put("/users/{email}/activate", summary="Activate or deactivate a user")
def set_active(
    context: AdminDep, email: Email, body: Annotated[SetActive, Body()]
) -> WebResult[bool]:
    """`off`: the user cannot log in, and their sessions and API keys stop working."""
    with context.writing("user.active", email, body.activate_status) as session:
        admin.set_active(session, context.admin, email, active=body.activate_status == "on")
    return WebResult(data=True)


@router.put("/users/{email}/admin", summary="Grant the admin role")
def grant_admin(context: AdminDep, email: Email) -> WebResult[bool]:
    with context.writing("user.grant_admin", email) as session:
        admin.set_admin(session, context.admin, email, grant=True)
    return WebResult(data=True)


@router.delete("/users/{email}/admin", summary="Revoke the admin role")
def revoke_admin(context: AdminDep, email: Email) -> WebResult[bool]:
    """An administrator cannot revoke their own role."""
    with context.writing("user.revoke_admin", email) as session:
        admin.set_admin(session, context.admin, email, grant=False)
    return WebResult(data=True)


@router.put("/users/{email}/role", summary="Set a user's role")
def set_role(context: AdminDep, email: Email, body: Annotated[SetRole, Body()]) -> WebResult[bool]:
    """`admin` or `user`: the same as granting or revoking the admin role."""
    with context.writing("user.role", email, body.role_name) as session:
        admin.set_admin(session, context.admin, email, grant=body.role_name is SystemRole.ADMIN)
    return WebResult(data=True)


@router.get("/users/{email}/permission", summary="A user's role and permissions")
def user_permissions(context: AdminDep, email: Email) -> WebResult[UserPermissions]:
    with context.reading("user.permission", email) as session:
        return WebResult(data=admin.permissions(session, email))


@router.get("/users/{email}/datasets", summary="A user's datasets")
def user_datasets(context: AdminDep, email: Email) -> WebResult[list[AdminDataset]]:
    with context.reading("user.datasets", email) as session:
        return WebResult(data=admin.user_datasets(session, email))


@router.get("/users/{email}/agents", summary="A user's agents")
def user_agents(context: AdminDep, email: Email) -> WebResult[list[AdminAgent]]:
    with context.reading("user.agents", email) as session:
        return WebResult(data=admin.user_agents(session, email))


@router.get("/roles", summary="List roles")
def list_roles(context: AdminDep) -> WebResult[list[RolePublic]]:
    """The two system roles and what each may do (fixed: roles cannot be created)."""
    with context.audited("role.list"):
        return WebResult(data=admin.roles())


# --- API keys ----------------------------------------------------------------------------------


@router.post("/users/{email}/keys", summary="Make an API key for a user")
def generate_key(context: AdminDep, email: Email) -> WebResult[AdminKey]:
    """A new API key of the user's tenant; the whole key is in this answer only."""
    with context.writing("key.create", email) as session:
        return WebResult(data=admin.generate_key(session, email))


@router.get("/users/{email}/keys", summary="List a user's API keys")
def list_keys(context: AdminDep, email: Email) -> WebResult[list[AdminKey]]:
    """Each by its first 16 characters."""
    with context.reading("key.list", email) as session:
        return WebResult(data=admin.list_keys(session, email))


@router.delete("/users/{email}/keys/{key}", summary="Delete a user's API key")
def delete_key(
    context: AdminDep,
    email: Email,
    key: Annotated[str, Path(description="The whole key, or its first 16 characters.")],
) -> WebResult[bool]:
    with context.writing("key.delete", email, key[:16]) as session:
        admin.delete_key(session, email, key)
    return WebResult(data=True)


# --- services, settings, version, audit --------------------------------------------------------


@router.get("/services", summary="List services")
def list_services(context: AdminDep) -> WebResult[list[ServicePublic]]:
    """Each component checked now: API server, workers, database, blob store, chunk store,
    queue, model providers."""
    with context.audited("service.list"):
        return WebResult(data=admin_system.list_services(context.runtime))


@router.get("/services/{service_id}", summary="Show a service")
def show_service(
    context: AdminDep, service_id: Annotated[int, Path(ge=0, description="Its id in the list.")]
) -> WebResult[ServiceDetail]:
    with context.audited("service.show", str(service_id)):
        return WebResult(data=admin_system.show_service(context.runtime, service_id))


@router.put("/variables", summary="Set a system variable")
def set_variable(
    context: AdminDep, body: Annotated[SetVariable, Body()]
) -> WebResult[VariablePublic]:
    """Stored in the database; every server applies it at its next use, without a restart."""
    with context.writing("variable.set", body.var_name, str(body.var_value)) as session:
        shown = variables.set_variable(
            session,
            context.runtime.settings,
            body.var_name,
            body.var_value,
            by=context.admin.email,
        )
    return WebResult(data=shown)


@router.get("/variables", summary="List system variables, or show one")
def list_variables(
    context: AdminDep, query: Annotated[VariableQuery, Query()]
) -> WebResult[list[VariablePublic]]:
    """All variables, or only `var_name`."""
    settings = context.runtime.settings
    with context.reading("variable.list", query.var_name or "") as session:
        if query.var_name:
            return WebResult(data=[variables.show(session, settings, query.var_name)])
        return WebResult(data=variables.list_variables(session, settings))


@router.get("/variables/{name}", summary="Show a system variable")
def show_variable(context: AdminDep, name: str) -> WebResult[VariablePublic]:
    with context.reading("variable.show", name) as session:
        return WebResult(data=variables.show(session, context.runtime.settings, name))


@router.get("/configs", summary="The settings in force")
def list_configs(context: AdminDep) -> WebResult[list[ConfigEntry]]:
    """Read-only (secrets hidden): settings change with a restart."""
    with context.audited("config.list"):
        return WebResult(data=admin_system.configs(context.runtime.settings))


@router.get("/environments", summary="The server's environment")
def list_environments(context: AdminDep) -> WebResult[list[EnvironmentEntry]]:
    with context.audited("environment.list"):
        return WebResult(data=admin_system.environments(context.runtime))


@router.get("/version", summary="Server version")
def version(context: AdminDep) -> WebResult[VersionPublic]:
    with context.audited("version.show"):
        return WebResult(data=VersionPublic(version=__version__))


@router.get("/audit", summary="The audit log")
def audit_log(context: AdminDep, query: Annotated[AuditQuery, Query()]) -> WebResult[AuditPage]:
    """Admin actions, newest first: who, what, when, from where, and the outcome."""
    with context.reading("audit.list") as session:
        return WebResult(data=audit.list_entries(session, query))
