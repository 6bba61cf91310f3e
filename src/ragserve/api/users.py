"""``/v1/user/*``: register, login, logout, profile and tenant settings (spec 2.14)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from ragserve.api.body import json_object, require, text
from ragserve.api.deps import RuntimeDep, WebCaller
from ragserve.api.envelope import web_result
from ragserve.db.models import Tenant, User
from ragserve.errors import AuthenticationError, OperatingError
from ragserve.runtime import Runtime
from ragserve.services import users
from ragserve.timeutil import rfc1123

router = APIRouter(prefix="/v1/user", tags=["user"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]


def user_wire(user: User) -> dict[str, Any]:
    """The user row as RAGFlow shows it, less the password hash and the access token."""
    return {
        "id": user.id,
        "nickname": user.nickname,
        "email": user.email,
        "avatar": user.avatar,
        "language": user.language,
        "color_schema": user.color_schema,
        "timezone": user.timezone,
        "last_login_time": rfc1123(user.last_login_time),
        "is_authenticated": "1",
        "is_active": "1" if user.is_active else "0",
        "is_anonymous": "0",
        "login_channel": user.login_channel,
        "status": "1",
        "is_superuser": user.is_superuser,
        "create_time": user.create_time,
        "create_date": rfc1123(user.create_date),
        "update_time": user.update_time,
        "update_date": rfc1123(user.update_date),
    }


def tenant_wire(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant_id": tenant.id,
        "name": tenant.name,
        "llm_id": tenant.llm_id,
        "embd_id": tenant.embd_id,
        "rerank_id": tenant.rerank_id,
        "asr_id": tenant.asr_id,
        "img2txt_id": tenant.img2txt_id,
        "tts_id": tenant.tts_id,
        "parser_ids": tenant.parser_ids,
        "role": "owner",
    }


def _start_session(runtime: Runtime, response: Response, user: User) -> None:
    response.headers["Authorization"] = runtime.signer.sign(user.access_token)
    response.headers["Access-Control-Expose-Headers"] = "Authorization"


@router.post("/register")
def register(runtime: RuntimeDep, body: JsonBody, response: Response) -> dict[str, Any]:
    require(body, "nickname", "email", "password")
    if not runtime.settings.register_enabled:
        raise OperatingError("User registration is disabled!")
    nickname = text(body, "nickname").strip()
    email = text(body, "email").strip()
    password = runtime.passwords.plain_text(text(body, "password"))
    with runtime.transaction() as session:
        users.create_account(
            session,
            email=email,
            nickname=nickname,
            password=password,
            defaults=runtime.tenant_defaults,
        )
        user = users.login(session, email=email, password=password)
        _start_session(runtime, response, user)
        return web_result(user_wire(user), f"{nickname}, welcome aboard!")


@router.post("/login")
def login(runtime: RuntimeDep, body: JsonBody, response: Response) -> dict[str, Any]:
    if not body:
        raise AuthenticationError("Unauthorized!", data=False)
    email = text(body, "email").strip()
    password = runtime.passwords.plain_text(text(body, "password"))
    with runtime.transaction() as session:
        user = users.login(session, email=email, password=password)
        _start_session(runtime, response, user)
        return web_result(user_wire(user), "Welcome back!")


# RAGFlow also answers GET; kept out of the OpenAPI schema so operation ids stay unique.
router.add_api_route("/login", login, methods=["GET"], include_in_schema=False)


@router.get("/logout")
def logout(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    with runtime.transaction() as session:
        users.logout(session, caller)
    return web_result(True)


@router.get("/info")
def info(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    with runtime.read() as session:
        return web_result(user_wire(users.get_user(session, caller.user_id)))


@router.post("/setting")
def setting(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    new_password = body.get("new_password")
    with runtime.transaction() as session:
        users.update_profile(
            session,
            caller,
            body,
            password=runtime.passwords.plain_text(text(body, "password")),
            new_password=(
                runtime.passwords.plain_text(text(body, "new_password"))
                if new_password is not None
                else None
            ),
        )
    return web_result(True)


@router.get("/tenant_info")
def tenant_info(runtime: RuntimeDep, caller: WebCaller) -> dict[str, Any]:
    with runtime.read() as session:
        return web_result(tenant_wire(users.owner_tenant(session, caller)))


@router.post("/set_tenant_info")
def set_tenant_info(runtime: RuntimeDep, caller: WebCaller, body: JsonBody) -> dict[str, Any]:
    require(body, "tenant_id", "asr_id", "embd_id", "img2txt_id", "llm_id")
    models = {field: text(body, field) for field in users.TENANT_MODEL_FIELDS if field in body}
    with runtime.transaction() as session:
        users.set_tenant_models(session, caller, text(body, "tenant_id"), models)
    return web_result(True)
