"""Single sign-on end to end: ragserve served over HTTP, a real local OIDC provider and a
local server speaking GitHub's OAuth, and an HTTP client that follows the redirects as a
browser does (cookies included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import delete, func, select

from helpers.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeGitHub, FakeOIDC
from helpers.live_app import LiveApp, live_app
from ragserve.db.models import SystemVariable, Tenant, User
from ragserve.services import users, variables
from ragserve.settings import OAuthChannel, Settings


@pytest.fixture(scope="module")
def oidc() -> Iterator[FakeOIDC]:
    with FakeOIDC() as provider:
        yield provider


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as provider:
        yield provider


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, oidc: FakeOIDC, github: FakeGitHub
) -> Iterator[LiveApp]:
    home = tmp_path_factory.mktemp("sso")
    secret_file = home / "corp-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    channels = {
        "corp": OAuthChannel(
            display_name="Corp SSO",
            client_id=CLIENT_ID,
            client_secret_file=secret_file,
            issuer=oidc.issuer,
            allowed_domains=["example.com", "EXAMPLE.org"],
        ),
        "partner": OAuthChannel(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
            discovery_url=oidc.issuer + "/.well-known/openid-configuration",
            allowed_domains=["partner.org"],
        ),
        "github": OAuthChannel(
            type="github",
            icon="github",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
            github_url=github.base_url,
            github_api_url=github.api_url,
        ),
    }
    settings = Settings(home=home / "home", workers=0, oauth_channels=channels)
    with live_app(settings) as served:
        yield served


@pytest.fixture(autouse=True)
def _fresh_providers(oidc: FakeOIDC, github: FakeGitHub) -> None:
    oidc.user = {
        "sub": "user-1",
        "email": "dana@example.com",
        "email_verified": True,
        "name": "Dana Scully",
    }
    oidc.email_in_id_token = True
    oidc.id_token_claims = {}
    oidc.sign_with = oidc.key
    oidc.requests.clear()
    github.requests.clear()


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        yield client


def landing(response: httpx.Response) -> dict[str, str]:
    """The query of the page the sign-in ended on (``auth`` or ``error``)."""
    ends = [r.headers["location"] for r in response.history if r.headers["location"][:2] == "/?"]
    assert len(ends) == 1, [r.headers["location"] for r in response.history]
    return dict(httpx.URL(ends[0]).params)


def sign_in(app: LiveApp, browser: httpx.Client, channel: str) -> dict[str, str]:
    return landing(browser.get(f"{app.base_url}/v1/user/login/{channel}"))


def info(app: LiveApp, token: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        app.base_url + "/v1/user/info", headers={"Authorization": token}
    ).json()
    return body


def accounts_with(app: LiveApp, email: str) -> int:
    with app.runtime.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(User).where(User.email == email)) or 0
        )


def test_channels_are_listed(app: LiveApp) -> None:
    body = httpx.get(app.base_url + "/v1/user/login/channels").json()
    assert body == {
        "code": 0,
        "message": "success",
        "data": [
            {"channel": "corp", "display_name": "Corp SSO", "icon": "sso"},
            {"channel": "partner", "display_name": "Partner", "icon": "sso"},
            {"channel": "github", "display_name": "Github", "icon": "github"},
        ],
    }


def test_first_oidc_sign_in_creates_the_user_and_tenant(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    oidc.user = {**oidc.user, "sub": "new-1", "email": "newcomer@example.com", "name": "New"}
    result = sign_in(app, browser, "corp")
    user = info(app, result["auth"])
    assert user["code"] == 0
    assert user["data"]["email"] == "newcomer@example.com"
    assert user["data"]["nickname"] == "New"
    assert user["data"]["login_channel"] == "corp"
    tenant = httpx.get(
        app.base_url + "/v1/user/tenant_info", headers={"Authorization": result["auth"]}
    ).json()
    assert tenant["code"] == 0 and tenant["data"]["tenant_id"] == user["data"]["id"]
    assert tenant["data"]["role"] == "owner"
    # the protocol as the provider saw it: PKCE S256, a nonce, the verifier at the token endpoint
    authorize = next(r for r in oidc.requests if r.path == "/authorize")
    assert authorize.params["code_challenge_method"] == "S256"
    assert authorize.params["nonce"] and authorize.params["state"]
    assert authorize.params["redirect_uri"] == app.base_url + "/v1/user/oauth/callback/corp"
    token = next(r for r in oidc.requests if r.path == "/token")
    assert len(token.params["code_verifier"]) >= 43
    # the state cookie is gone once used
    assert "ragserve_oauth_state" not in browser.cookies


def test_second_sign_in_reuses_the_account_and_rotates_the_session(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    oidc.user = {**oidc.user, "sub": "again-1", "email": "again@example.com"}
    first = sign_in(app, browser, "corp")["auth"]
    first_id = info(app, first)["data"]["id"]
    second = sign_in(app, browser, "corp")["auth"]
    assert info(app, second)["data"]["id"] == first_id
    assert accounts_with(app, "again@example.com") == 1
    assert info(app, first)["code"] == 401  # the earlier session ended


def test_existing_password_account_is_signed_in_by_its_verified_email(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    registered = httpx.post(
        app.base_url + "/v1/user/register",
        json={"nickname": "eve", "email": "Eve@example.com", "password": "pw"},
    ).json()
    oidc.user = {**oidc.user, "sub": "eve-1", "email": "eve@example.com"}
    result = sign_in(app, browser, "corp")
    assert info(app, result["auth"])["data"]["id"] == registered["data"]["id"]
    assert info(app, result["auth"])["data"]["login_channel"] == "password"


def test_email_from_userinfo_when_the_id_token_has_none(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    oidc.user = {**oidc.user, "sub": "ui-1", "email": "userinfo@example.org"}
    oidc.email_in_id_token = False
    result = sign_in(app, browser, "corp")
    assert info(app, result["auth"])["data"]["email"] == "userinfo@example.org"
    assert any(r.path == "/userinfo" for r in oidc.requests)


def start(app: LiveApp, browser: httpx.Client, channel: str = "corp") -> httpx.URL:
    """Begin a sign-in and stop at the provider's authorization URL."""
    response = browser.get(f"{app.base_url}/v1/user/login/{channel}", follow_redirects=False)
    assert response.status_code == 302
    return httpx.URL(response.headers["location"])


def callback_of(browser: httpx.Client, authorize: httpx.URL) -> httpx.URL:
    """What the provider sends the browser back to, not followed."""
    response = browser.get(authorize, follow_redirects=False)
    assert response.status_code == 302
    return httpx.URL(response.headers["location"])


def test_state_different_from_the_cookie_is_refused(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    oidc.user = {**oidc.user, "sub": "s-1", "email": "state@example.com"}
    callback = callback_of(browser, start(app, browser))
    forged = callback.copy_set_param("state", "forged-state")
    result = landing(browser.get(forged))
    assert "state mismatch" in result["error"]
    assert accounts_with(app, "state@example.com") == 0


def test_callback_in_another_browser_is_refused(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    """A callback link made by someone else (login CSRF) has no state cookie here."""
    oidc.user = {**oidc.user, "sub": "s-2", "email": "csrf@example.com"}
    callback = callback_of(browser, start(app, browser))
    with httpx.Client(follow_redirects=True) as victim:
        assert "state mismatch" in landing(victim.get(callback))["error"]
    assert accounts_with(app, "csrf@example.com") == 0


def test_a_callback_is_used_once(app: LiveApp, oidc: FakeOIDC, browser: httpx.Client) -> None:
    oidc.user = {**oidc.user, "sub": "s-3", "email": "replay@example.com"}
    callback = callback_of(browser, start(app, browser))
    state = callback.params["state"]
    assert "auth" in landing(browser.get(callback))
    browser.cookies.set("ragserve_oauth_state", state, path="/v1/user")
    assert "state mismatch" in landing(browser.get(callback))["error"]


def test_wrong_pkce_verifier_is_refused(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    """The challenge the provider sees is not the one ragserve's verifier answers."""
    oidc.user = {**oidc.user, "sub": "p-1", "email": "pkce@example.com"}
    authorize = start(app, browser)
    tampered = authorize.copy_set_param("code_challenge", "A" * 43)
    result = landing(browser.get(tampered))
    assert result["error"] == "The provider refused the sign-in (invalid_grant)."
    assert accounts_with(app, "pkce@example.com") == 0


def test_domain_not_allowed_is_refused(app: LiveApp, oidc: FakeOIDC, browser: httpx.Client) -> None:
    oidc.user = {**oidc.user, "sub": "d-1", "email": "outsider@example.com"}
    result = sign_in(app, browser, "partner")
    assert result["error"] == "The e-mail domain of outsider@example.com may not sign in here."
    assert accounts_with(app, "outsider@example.com") == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nonce": "another"}, "The provider's ID token is not valid."),
        ({"aud": "another-client"}, "The provider's ID token is not valid."),
        ({"iss": "http://elsewhere"}, "The provider's ID token is not valid."),
        ({"exp": 1000}, "The provider's ID token is not valid."),
        ({"email_verified": False}, "The provider has not verified the e-mail address."),
    ],
)
def test_id_token_claims_are_checked(
    app: LiveApp,
    oidc: FakeOIDC,
    browser: httpx.Client,
    change: dict[str, Any],
    message: str,
) -> None:
    oidc.user = {**oidc.user, "sub": "c-1", "email": "claims@example.com"}
    oidc.id_token_claims = change
    assert sign_in(app, browser, "corp")["error"] == message
    assert accounts_with(app, "claims@example.com") == 0


def test_forged_id_token_signature_is_refused(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    oidc.user = {**oidc.user, "sub": "f-1", "email": "forged@example.com"}
    oidc.sign_with = RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)
    assert sign_in(app, browser, "corp")["error"] == "The provider's ID token is not valid."


def test_disabled_account_is_refused(app: LiveApp, oidc: FakeOIDC, browser: httpx.Client) -> None:
    oidc.user = {**oidc.user, "sub": "x-1", "email": "disabled@example.com"}
    assert "auth" in sign_in(app, browser, "corp")
    with app.runtime.transaction() as session:
        users.set_active(session, "disabled@example.com", active=False)
    result = sign_in(app, browser, "corp")
    assert result["error"] == "This account has been disabled, please contact the administrator!"


def test_provider_refusal_is_shown(app: LiveApp, browser: httpx.Client) -> None:
    start(app, browser)
    response = browser.get(
        app.base_url + "/v1/user/oauth/callback/corp?error=access_denied&state=x"
    )
    assert landing(response)["error"] == "The provider refused the sign-in (access_denied)."
    response = browser.get(app.base_url + "/v1/user/oauth/callback/corp?error=%3Cscript%3E")
    assert landing(response)["error"] == "The provider refused the sign-in (unknown error)."


def test_unknown_channel(app: LiveApp, browser: httpx.Client) -> None:
    body = browser.get(app.base_url + "/v1/user/login/nowhere").json()
    assert body == {"code": 102, "message": "Invalid channel name: nowhere", "data": None}
    result = landing(browser.get(app.base_url + "/v1/user/oauth/callback/nowhere?code=c&state=s"))
    assert result["error"] == "Invalid channel name: nowhere"


def test_github_sign_in_uses_the_verified_primary_address(
    app: LiveApp, github: FakeGitHub, browser: httpx.Client
) -> None:
    result = sign_in(app, browser, "github")
    user = info(app, result["auth"])["data"]
    assert user["email"] == "dana@example.com"
    assert user["nickname"] == "Dana"
    assert user["login_channel"] == "github"
    assert user["avatar"] == "https://x/a.png"
    authorize = next(r for r in github.requests if r.path == "/login/oauth/authorize")
    assert authorize.params["code_challenge_method"] == "S256"
    assert authorize.params["scope"] == "read:user user:email"


def test_github_callback_route_serves_the_github_channel(
    app: LiveApp, github: FakeGitHub, browser: httpx.Client
) -> None:
    callback = callback_of(browser, start(app, browser, "github"))
    legacy = httpx.URL(app.base_url + "/v1/user/github_callback").copy_merge_params(
        dict(callback.params)
    )
    result = landing(browser.get(legacy))
    assert info(app, result["auth"])["data"]["email"] == "dana@example.com"


def test_github_pkce_failure_and_unverified_addresses(
    app: LiveApp, github: FakeGitHub, browser: httpx.Client
) -> None:
    tampered = start(app, browser, "github").copy_set_param("code_challenge", "B" * 43)
    error = landing(browser.get(tampered))["error"]
    assert error == "The provider refused the sign-in (bad_verification_code)."
    saved = github.emails
    github.emails = [{"email": "nobody@example.com", "primary": True, "verified": False}]
    try:
        error = sign_in(app, browser, "github")["error"]
    finally:
        github.emails = saved
    assert error == "The GitHub account has no verified e-mail address."


def test_provider_down_is_an_error_without_detail(tmp_path: Path) -> None:
    channel = OAuthChannel(client_id="c", issuer="http://127.0.0.1:9")  # nothing listens
    settings = Settings(home=tmp_path, workers=0, oauth_channels={"down": channel})
    with live_app(settings) as served:
        body = httpx.get(served.base_url + "/v1/user/login/down").json()
    assert body["code"] == 500
    assert body["message"].startswith("The sign-in provider could not be reached (request id ")


def test_a_first_sign_in_takes_the_new_tenant_model_an_administrator_set(
    app: LiveApp, oidc: FakeOIDC, browser: httpx.Client
) -> None:
    chat_model = "admin-chosen-chat@OpenAI-API-Compatible"
    with app.runtime.transaction() as session:
        variables.set_variable(
            session, app.runtime.settings, variables.NEW_TENANT_CHAT_MODEL, chat_model, by="test"
        )
    try:
        oidc.user = {**oidc.user, "sub": "var-1", "email": "variable@example.com"}
        user_id = info(app, sign_in(app, browser, "corp")["auth"])["data"]["id"]
        with app.runtime.read() as session:
            tenant = session.get(Tenant, user_id)
            assert tenant is not None and tenant.llm_id == chat_model
    finally:
        with app.runtime.transaction() as session:
            session.execute(delete(SystemVariable))
