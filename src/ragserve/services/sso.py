"""Single sign-on: the login channels, the start of a sign-in and its end at the callback.

``begin`` keeps the sign-in's secrets (PKCE verifier, nonce, redirect URI) in the database
under a digest of a random ``state``, which the browser carries to the provider and back and
also holds in a cookie; ``finish`` takes that row once (a replayed or forged callback finds
none), requires the callback's state to equal the cookie's (so a callback link made by
someone else cannot sign this browser in), asks the provider who signed in, and signs that
user in, creating the account and its tenant on the first sign-in.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ragserve.db.models import User
from ragserve.errors import AuthenticationError, DataError, Forbidden
from ragserve.runtime import Runtime, TenantDefaults
from ragserve.schemas.users import LoginChannel
from ragserve.security import new_access_token, new_oauth_secret
from ragserve.services import challenges, oauth, users, variables
from ragserve.services.challenges import ChallengeKind
from ragserve.settings import OAuthChannel
from ragserve.timeutil import utc_now

STATE_LIFETIME = 600
"""Seconds between the login redirect and the callback."""

STATE_REFUSED = "The sign-in could not be verified (state mismatch or expired); try again."


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the state to keep in its cookie."""

    url: str
    state: str


def channels(runtime: Runtime) -> list[LoginChannel]:
    return [
        LoginChannel(
            channel=name,
            display_name=channel.display_name or name.title(),
            icon=channel.icon,
        )
        for name, channel in runtime.settings.oauth_channels.items()
    ]


def channel_named(runtime: Runtime, name: str) -> OAuthChannel:
    channel = runtime.settings.oauth_channels.get(name)
    if channel is None:
        raise DataError(f"Invalid channel name: {name}")
    return channel


def github_channel_name(runtime: Runtime) -> str:
    """The channel ``/v1/user/github_callback`` serves: the one named ``github``, else the
    first of type ``github``."""
    configured = runtime.settings.oauth_channels
    names = [name for name, channel in configured.items() if channel.type == "github"]
    if names:
        return "github" if "github" in names else names[0]
    raise DataError("Invalid channel name: github")


def provider_refusal(error: str) -> AuthenticationError:
    """The provider sent the browser back with ``error`` (the user declined, say)."""
    shown = error if oauth.OAUTH_ERROR_CODE.match(error) else "unknown error"
    return AuthenticationError(f"The provider refused the sign-in ({shown}).")


def begin(runtime: Runtime, name: str, redirect_uri: str) -> Started:
    channel = channel_named(runtime, name)
    state = new_oauth_secret()
    attempt = oauth.Attempt(new_oauth_secret(), new_oauth_secret(), redirect_uri)
    url = oauth.authorization_url(channel, state, attempt)  # OIDC: discovery, before writing
    with runtime.transaction() as session:
        challenges.put(
            session,
            ChallengeKind.OAUTH_STATE,
            challenges.lookup_of(state),
            {
                "channel": name,
                "verifier": attempt.verifier,
                "nonce": attempt.nonce,
                "redirect_uri": redirect_uri,
            },
            STATE_LIFETIME,
        )
    return Started(url, state)


def finish(
    runtime: Runtime, name: str, *, state: str, cookie_state: str | None, code: str
) -> users.SignedIn:
    """The signed-in user of a callback; ``AuthenticationError`` for any refusal."""
    channel = channel_named(runtime, name)
    if not state or not cookie_state or not hmac.compare_digest(state, cookie_state):
        raise AuthenticationError(STATE_REFUSED)
    with runtime.transaction() as session:
        row = challenges.take(session, ChallengeKind.OAUTH_STATE, challenges.lookup_of(state))
    if row is None or row.payload.get("channel") != name:
        raise AuthenticationError(STATE_REFUSED)
    if not code:
        raise AuthenticationError("The provider sent no authorization code.")
    attempt = oauth.Attempt(
        str(row.payload["verifier"]), str(row.payload["nonce"]), str(row.payload["redirect_uri"])
    )
    identity = oauth.identity(channel, code, attempt)  # network: outside any transaction
    if not channel.allows(identity.email):
        raise AuthenticationError(f"The e-mail domain of {identity.email} may not sign in here.")
    with runtime.transaction() as session:
        defaults = variables.tenant_defaults(session, runtime.settings)
        user = sign_in(session, identity, name, defaults=defaults)
        return users.SignedIn(users.public(user), user.access_token)


def sign_in(
    session: Session, identity: oauth.Identity, channel_name: str, *, defaults: TenantDefaults
) -> User:
    """The account of ``identity``'s e-mail address (created with its tenant on the first
    sign-in, with a password nobody knows), with a new session."""
    user = users.find_user_by_email(session, identity.email)
    if user is None:
        user = users.create_account(
            session,
            email=identity.email,
            nickname=identity.nickname,
            password=new_oauth_secret(),
            defaults=defaults,
        )
        user.login_channel = channel_name[:32]
        user.avatar = identity.avatar
    if not user.is_active:
        raise Forbidden("This account has been disabled, please contact the administrator!")
    user.access_token = new_access_token()
    user.last_login_time = utc_now().replace(tzinfo=None)
    session.flush()
    return user
