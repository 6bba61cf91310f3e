"""``/v1/user/forget/*``: password reset by e-mail (spec B.6; ``services/password_reset.py``).

Captcha, one-time code by mail, verification, new password. The verification is bound to the
browser that verified the code: ``verify-otp`` sets an HttpOnly cookie that ``reset-password``
requires (RAGFlow keeps a flag per address instead, which lets anyone who knows the address
set the password in the window after the owner verified; the cookie keeps its web client
working, as browsers send it by themselves).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Query, Response

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep
from ragserve.api.envelope import WebResult
from ragserve.schemas.users import (
    CaptchaRequest,
    PasswordReset,
    ResetCodeCheck,
    ResetCodeRequest,
    UserPublic,
)
from ragserve.services import captcha, password_reset

router = APIRouter(prefix="/v1/user/forget", tags=["user"], route_class=RagflowRoute)

RESET_COOKIE = "ragserve_password_reset"
COOKIE_PATH = "/v1/user/forget"


@router.get(
    "/captcha",
    summary="A password-reset captcha",
    response_class=Response,
    responses={
        200: {
            "description": "The captcha picture; or the error envelope.",
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
            },
        }
    },
)
def forget_captcha(runtime: RuntimeDep, query: Annotated[CaptchaRequest, Query()]) -> Response:
    """A JPEG of a few letters to type into `/forget/otp` (valid for `captcha_lifetime`
    seconds; a new one replaces it). Any address gets one, registered or not."""
    text = password_reset.new_captcha(runtime, query.email)
    return Response(
        captcha.picture(text), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )


@router.post("/otp", summary="Mail a password-reset code")
def forget_otp(
    runtime: RuntimeDep, request: Annotated[ResetCodeRequest, Body()]
) -> WebResult[bool]:
    """With the captcha's letters (case ignored; any answer uses the captcha up), mail a
    one-time code to the address if it has an account; the answer is the same if it has
    none. Wrong captcha: 109; a new code within a minute of the last: 103."""
    password_reset.send_code(runtime, request.email, request.captcha)
    return WebResult(data=True, message=password_reset.CODE_SENT)


@router.post("/verify-otp", summary="Check a password-reset code")
def forget_verify_otp(
    runtime: RuntimeDep, request: Annotated[ResetCodeCheck, Body()], response: Response
) -> WebResult[bool]:
    """Use up the code (single-use, valid for `reset_code_lifetime` seconds; five wrong
    answers kill it). Sets the HttpOnly cookie that `/forget/reset-password` needs."""
    token = password_reset.verify_code(runtime, request.email, request.otp)
    response.set_cookie(
        RESET_COOKIE,
        token,
        max_age=runtime.settings.reset_code_lifetime,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=(runtime.settings.public_url or "").startswith("https://"),
    )
    return WebResult(data=True, message=password_reset.CODE_VERIFIED)


@router.post("/reset-password", summary="Set a new password")
def forget_reset_password(
    runtime: RuntimeDep,
    request: Annotated[PasswordReset, Body()],
    response: Response,
    reset_cookie: Annotated[str | None, Cookie(alias=RESET_COOKIE)] = None,
) -> WebResult[UserPublic]:
    """Set the password of the address verified in this browser and log in: the response's
    `Authorization` header is the new web session token; other sessions end. Not verified
    (or another address): 109."""
    plain = runtime.passwords.plain_text
    signed_in = password_reset.reset(
        runtime,
        request.email,
        reset_cookie,
        plain(request.new_password),
        plain(request.confirm_new_password),
    )
    response.delete_cookie(RESET_COOKIE, path=COOKIE_PATH)
    response.headers["Authorization"] = runtime.signer.sign(signed_in.access_token)
    response.headers["Access-Control-Expose-Headers"] = "Authorization"
    return WebResult(data=signed_in.user, message=password_reset.PASSWORD_RESET)
