"""The two protocols of single sign-on: OpenID Connect (any provider) and GitHub's OAuth.

Both use the authorization-code flow with PKCE (S256). ``authorization_url`` builds where the
browser goes; ``identity`` turns the code the provider sent back into a verified e-mail
address. For OIDC the ID token's signature (the provider's JWKS), issuer, audience, expiry and
nonce are checked; GitHub has no ID token, so its API names the user's verified primary
address. Nothing here touches the database (``services/sso.py`` does).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ragserve.errors import AuthenticationError, InternalError
from ragserve.security import pkce_challenge
from ragserve.settings import OAuthChannel

logger = logging.getLogger(__name__)

ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
DEFAULT_SCOPES = {"oidc": "openid email profile", "github": "read:user user:email"}
OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    email: str
    nickname: str
    avatar: str | None = None


@dataclass(frozen=True)
class Attempt:
    """The secrets of one sign-in, kept server-side between the login and the callback."""

    verifier: str
    nonce: str
    redirect_uri: str


class ProviderUnavailable(InternalError):
    public_message = "The sign-in provider could not be reached."


def scope_of(channel: OAuthChannel) -> str:
    return channel.scope or DEFAULT_SCOPES[channel.type]


def authorization_url(channel: OAuthChannel, state: str, attempt: Attempt) -> str:
    """Where the browser is sent to sign in at the provider."""
    params = {
        "response_type": "code",
        "client_id": channel.client_id,
        "redirect_uri": attempt.redirect_uri,
        "scope": scope_of(channel),
        "state": state,
        "code_challenge": pkce_challenge(attempt.verifier),
        "code_challenge_method": "S256",
    }
    if channel.type == "github":
        endpoint = channel.github_url.rstrip("/") + "/login/oauth/authorize"
    else:
        params["nonce"] = attempt.nonce
        endpoint = _discover(channel)["authorization_endpoint"]
    return str(httpx.URL(endpoint).copy_merge_params(params))


def identity(channel: OAuthChannel, code: str, attempt: Attempt) -> Identity:
    """The user behind an authorization code, checked as the protocol requires."""
    if channel.type == "github":
        return _github_identity(channel, code, attempt)
    return _oidc_identity(channel, code, attempt)


def _client(channel: OAuthChannel) -> httpx.Client:
    return httpx.Client(timeout=channel.timeout, headers={"Accept": "application/json"})


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise ProviderUnavailable(f"{what}: not JSON (HTTP {response.status_code})") from error


def _get(channel: OAuthChannel, url: str, what: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with _client(channel) as client:
            response = client.get(url, headers=headers)
    except httpx.HTTPError as error:
        raise ProviderUnavailable(f"{what}: {error!r}") from error
    if response.status_code != 200:
        raise ProviderUnavailable(f"{what}: HTTP {response.status_code}")
    return _json(response, what)


def _discover(channel: OAuthChannel) -> dict[str, Any]:
    """The provider's OpenID configuration; its issuer must be the configured one."""
    url = channel.discovery_url or (
        str(channel.issuer).rstrip("/") + "/.well-known/openid-configuration"
    )
    document = _get(channel, url, "OIDC discovery")
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(document, dict) or not all(
        isinstance(document.get(key), str) for key in needed
    ):
        raise ProviderUnavailable(f"OIDC discovery at {url}: missing {needed}")
    if channel.issuer is not None and document["issuer"] != channel.issuer:
        raise ProviderUnavailable(f"OIDC discovery at {url}: issuer {document['issuer']!r}")
    return document


def _token(
    channel: OAuthChannel, endpoint: str, form: dict[str, str], *, basic_auth: bool
) -> dict[str, Any]:
    """The token endpoint's answer to the code; a refusal is the user's failed sign-in."""
    try:
        with _client(channel) as client:
            if basic_auth:
                response = client.post(
                    endpoint, data=form, auth=(channel.client_id, channel.secret())
                )
            else:
                secret = {"client_id": channel.client_id, "client_secret": channel.secret()}
                response = client.post(endpoint, data={**form, **secret})
    except httpx.HTTPError as error:
        raise ProviderUnavailable(f"token endpoint: {error!r}") from error
    body = _json(response, "token endpoint")
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"token endpoint: HTTP {response.status_code}, not an object")
    error_code = body.get("error")
    if error_code is not None or response.status_code != 200:
        shown = error_code if isinstance(error_code, str) else ""
        shown = shown if OAUTH_ERROR_CODE.match(shown) else "unknown error"
        raise AuthenticationError(f"The provider refused the sign-in ({shown}).")
    if not isinstance(body.get("access_token"), str):
        raise ProviderUnavailable("token endpoint: no access_token")
    return body


def _oidc_identity(channel: OAuthChannel, code: str, attempt: Attempt) -> Identity:
    provider = _discover(channel)
    methods = provider.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    tokens = _token(
        channel,
        provider["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": attempt.redirect_uri,
            "code_verifier": attempt.verifier,
        },
        basic_auth="client_secret_basic" in methods,
    )
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise AuthenticationError("The provider sent no ID token.")
    claims = _verified_claims(channel, provider, id_token, attempt.nonce)
    if "email" not in claims and isinstance(provider.get("userinfo_endpoint"), str):
        userinfo = _get(
            channel, provider["userinfo_endpoint"], "userinfo", token=tokens["access_token"]
        )
        if isinstance(userinfo, dict) and userinfo.get("sub") == claims.get("sub"):
            claims = {**userinfo, **claims}
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise AuthenticationError("The provider gave no e-mail address.")
    if claims.get("email_verified") is False:
        raise AuthenticationError("The provider has not verified the e-mail address.")
    nickname = next(
        (
            value
            for key in ("name", "preferred_username", "nickname")
            if isinstance(value := claims.get(key), str) and value
        ),
        email.partition("@")[0],
    )
    picture = claims.get("picture")
    return Identity(email, nickname, picture if isinstance(picture, str) else None)


def _verified_claims(
    channel: OAuthChannel, provider: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    keys = _get(channel, provider["jwks_uri"], "JWKS")
    try:
        key_set = KeySet.import_key_set(keys)
        token = jwt.decode(id_token, key_set, algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider["issuer"]},
            aud={"essential": True, "value": channel.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError) as error:
        logger.warning("ID token of channel refused: %r", error)
        raise AuthenticationError("The provider's ID token is not valid.") from error
    claims: dict[str, Any] = dict(token.claims)
    return claims


def _github_identity(channel: OAuthChannel, code: str, attempt: Attempt) -> Identity:
    tokens = _token(
        channel,
        channel.github_url.rstrip("/") + "/login/oauth/access_token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": attempt.redirect_uri,
            "code_verifier": attempt.verifier,
        },
        basic_auth=False,
    )
    api = channel.github_api_url.rstrip("/")
    user = _get(channel, api + "/user", "GitHub user", token=tokens["access_token"])
    emails = _get(channel, api + "/user/emails", "GitHub e-mails", token=tokens["access_token"])
    if not isinstance(user, dict) or not isinstance(emails, list):
        raise ProviderUnavailable("GitHub API: unexpected answer")
    verified = [
        entry
        for entry in emails
        if isinstance(entry, dict) and entry.get("verified") is True and entry.get("email")
    ]
    verified.sort(key=lambda entry: entry.get("primary") is not True)
    if not verified:
        raise AuthenticationError("The GitHub account has no verified e-mail address.")
    # the primary address first, but one the channel accepts before one it does not
    allowed = [entry for entry in verified if channel.allows(str(entry["email"]))]
    email = str((allowed or verified)[0]["email"])
    nickname = user.get("name") or user.get("login") or email.partition("@")[0]
    avatar = user.get("avatar_url")
    return Identity(email, str(nickname), avatar if isinstance(avatar, str) else None)
