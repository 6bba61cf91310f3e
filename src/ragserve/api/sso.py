"""``/v1/user/login/*`` and the OAuth callbacks: single sign-on (spec B.6, ``docs/auth.md``).

The login route sends the browser to the provider and keeps the sign-in's state in an
HttpOnly cookie; the callback ends with a redirect to ``login_redirect_url`` carrying
``?auth=<session token>`` (what RAGFlow's web client reads) or ``?error=<text>``: the browser
is mid-navigation, so failures are redirects too, never JSON.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Path, Query, Request
from fastapi.responses import RedirectResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import RuntimeDep
from ragserve.api.envelope import WebResult
from ragserve.errors import InternalError, RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.users import LoginChannel, OAuthCallback
from ragserve.services import sso

router = APIRouter(prefix="/v1/user", tags=["user"], route_class=RagflowRoute)
logger = logging.getLogger(__name__)

STATE_COOKIE = "ragserve_oauth_state"
ChannelName = Annotated[str, Path(description="A channel of `/v1/user/login/channels`.")]


@router.get("/login/channels", summary="Single-sign-on channels")
def login_channels(runtime: RuntimeDep) -> WebResult[list[LoginChannel]]:
    """The OIDC and GitHub channels configured (`oauth_channels`), for the login page."""
    return WebResult(data=sso.channels(runtime))


ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
REDIRECT = {"description": "To the provider, or to `login_redirect_url`."}


@router.get(
    "/login/{channel}",
    summary="Sign in through a channel",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: REDIRECT,
        200: {
            "description": "An unknown channel (102).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
    },
)
def login_with(runtime: RuntimeDep, request: Request, channel: ChannelName) -> RedirectResponse:
    """Redirect (302) to the provider's sign-in page, with PKCE (S256), a state (also kept in
    an HttpOnly cookie) and, for OIDC, a nonce. An unknown channel: 102."""
    started = sso.begin(runtime, channel, _redirect_uri(runtime, request, channel))
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=sso.STATE_LIFETIME,
        path="/v1/user",
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, not on other requests
        secure=_is_https(runtime, request),
    )
    return response


@router.get(
    "/oauth/callback/{channel}",
    summary="OAuth callback",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: REDIRECT},
)
def oauth_callback(
    runtime: RuntimeDep,
    channel: ChannelName,
    query: Annotated[OAuthCallback, Query()],
    state_cookie: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back. Redirects to `login_redirect_url` with
    `?auth=<session token>`, or `?error=<text>` when the sign-in is refused: state missing,
    different from the cookie's, used or expired; the provider refusing the code (a wrong
    PKCE verifier); an invalid ID token; an e-mail domain not allowed; a disabled account."""
    return _finish(runtime, channel, query, state_cookie)


@router.get(
    "/github_callback",
    summary="GitHub callback",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: REDIRECT},
)
def github_callback(
    runtime: RuntimeDep,
    query: Annotated[OAuthCallback, Query()],
    state_cookie: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> RedirectResponse:
    """RAGFlow's GitHub callback: the OAuth callback of the channel named `github` (else the
    first GitHub channel), for GitHub apps registered with this address."""
    try:
        name = sso.github_channel_name(runtime)
    except RagserveError as error:
        return _landing(runtime, error=error.message)
    return _finish(runtime, name, query, state_cookie)


def _finish(
    runtime: Runtime, channel: str, query: OAuthCallback, state_cookie: str | None
) -> RedirectResponse:
    try:
        if query.error:
            raise sso.provider_refusal(query.error)
        signed_in = sso.finish(
            runtime, channel, state=query.state, cookie_state=state_cookie, code=query.code
        )
    except RagserveError as error:
        if isinstance(error, InternalError):
            logger.error("single sign-on through %s failed: %s", channel, error.detail)
        response = _landing(runtime, error=error.message)
    else:
        response = _landing(runtime, auth=runtime.signer.sign(signed_in.access_token))
    response.delete_cookie(STATE_COOKIE, path="/v1/user")
    return response


def _landing(runtime: Runtime, **params: str) -> RedirectResponse:
    target = runtime.settings.login_redirect_url
    separator = "&" if "?" in target else "?"
    return RedirectResponse(target + separator + urlencode(params), status_code=302)


def _redirect_uri(runtime: Runtime, request: Request, channel: str) -> str:
    configured = sso.channel_named(runtime, channel).redirect_uri
    if configured:
        return configured
    base = runtime.settings.public_url or str(request.base_url)
    return base.rstrip("/") + f"/v1/user/oauth/callback/{channel}"


def _is_https(runtime: Runtime, request: Request) -> bool:
    base = runtime.settings.public_url or str(request.base_url)
    return base.startswith("https://")
