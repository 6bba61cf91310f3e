"""``/v1/user/*``: register, login, logout, profile and tenant settings (spec 2.14)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import WebResult
from ragserve.errors import OperatingError
from ragserve.runtime import Runtime
from ragserve.schemas.users import (
    Login,
    Register,
    TenantInfo,
    TenantSettings,
    UserPublic,
    UserSetting,
)
from ragserve.services import users, variables

router = APIRouter(prefix="/v1/user", tags=["user"], route_class=RagflowRoute)


def _start_session(runtime: Runtime, response: Response, signed_in: users.SignedIn) -> None:
    response.headers["Authorization"] = runtime.signer.sign(signed_in.access_token)
    response.headers["Access-Control-Expose-Headers"] = "Authorization"


@router.post("/register", summary="Register an account")
def register(
    runtime: RuntimeDep, request: Annotated[Register, Body()], response: Response
) -> WebResult[UserPublic]:
    """A new user with a tenant of its own (same id), logged in at once: the response's
    `Authorization` header is the web session token, to send back as it is (no `Bearer`).
    Refused (103) when the server disallows registration or the email is taken (ignoring
    case)."""
    password = runtime.passwords.plain_text(request.password)
    with runtime.transaction() as session:
        if not variables.register_enabled(session, runtime.settings):
            raise OperatingError("User registration is disabled!")
        defaults = variables.tenant_defaults(session, runtime.settings)
        signed_in = users.register(session, request, password=password, defaults=defaults)
        _start_session(runtime, response, signed_in)
        return WebResult(data=signed_in.user, message=f"{request.nickname}, welcome aboard!")


@router.post("/login", summary="Log in")
def login(
    runtime: RuntimeDep, request: Annotated[Login, Body()], response: Response
) -> WebResult[UserPublic]:
    """Check the email and password and start a new session: the response's `Authorization`
    header is the web session token, to send back as it is (no `Bearer`); the user's previous
    one stops working. Failures are code 109 (403 for a disabled account)."""
    password = runtime.passwords.plain_text(request.password)
    with runtime.transaction() as session:
        signed_in = users.sign_in(session, email=request.email, password=password)
        _start_session(runtime, response, signed_in)
        return WebResult(data=signed_in.user, message="Welcome back!")


# RAGFlow also answers GET; kept out of the OpenAPI schema so operation ids stay unique.
router.add_api_route("/login", login, methods=["GET"], include_in_schema=False)


@router.get("/logout", summary="Log out")
def logout(runtime: RuntimeDep, caller: WebCaller) -> WebResult[bool]:
    """End the caller's web session: its session token stops working (API keys do not)."""
    with runtime.transaction() as session:
        users.logout(session, caller)
    return WebResult(data=True)


@router.get("/info", summary="The caller's profile")
def info(runtime: RuntimeDep, caller: WebCaller) -> WebResult[UserPublic]:
    """The logged-in user (with an API key: the key's tenant's owner)."""
    with runtime.read() as session:
        return WebResult(data=users.public(users.get_user(session, caller.user_id)))


@router.post("/setting", summary="Change the profile or the password")
def setting(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[UserSetting, Body()]
) -> WebResult[bool]:
    """Change the profile fields given; with `new_password`, also the password, when
    `password` is the current one (else 109 "Password error!")."""
    new_password = request.new_password
    with runtime.transaction() as session:
        users.update_profile(
            session,
            caller,
            request,
            password=runtime.passwords.plain_text(request.password),
            new_password=(
                runtime.passwords.plain_text(new_password) if new_password is not None else None
            ),
        )
    return WebResult(data=True)


@router.get("/tenant_info", summary="The caller's tenant")
def tenant_info(runtime: RuntimeDep, caller: WebCaller) -> WebResult[TenantInfo]:
    """The tenant the caller owns, with its default models."""
    with runtime.read() as session:
        return WebResult(data=users.tenant_info(users.owner_tenant(session, caller)))


@router.post("/set_tenant_info", summary="Set the tenant's default models")
def set_tenant_info(
    runtime: RuntimeDep, caller: WebCaller, request: Annotated[TenantSettings, Body()]
) -> WebResult[bool]:
    """Set the default models of a tenant the caller owns (another id: 102 "Tenant not
    found!")."""
    with runtime.transaction() as session:
        users.set_tenant_models(session, caller, request)
    return WebResult(data=True)
