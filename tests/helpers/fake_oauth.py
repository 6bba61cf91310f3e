"""Real local sign-in providers for the single-sign-on tests, each a small HTTP server.

``FakeOIDC`` is an OpenID Connect provider: discovery, an authorization endpoint that signs in
``user`` at once and redirects back with a code, a token endpoint (client_secret_basic) that
checks the code (single-use), the redirect URI and the PKCE verifier against the S256
challenge (with authlib's implementation of RFC 7636, not ragserve's), and answers an RS256 ID
token signed with its own key, a JWKS and a userinfo endpoint. ``FakeGitHub`` speaks GitHub's
OAuth web flow (``/login/oauth/authorize``, ``/login/oauth/access_token``) and the REST calls
ragserve makes (``/api/user``, ``/api/user/emails``).

Attributes a test changes to make the provider misbehave: ``user`` (who signs in),
``email_in_id_token`` (else only userinfo has it), ``id_token_claims`` (claims to override,
e.g. a wrong ``nonce`` or ``aud``), ``sign_with`` (another key: a forged signature).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from helpers.local_http import LocalHTTPServer

CLIENT_ID = "ragserve-test"
CLIENT_SECRET = "client-secret-for-tests"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    user: dict[str, Any]


@dataclass
class Answer:
    status: int
    body: Any = None
    location: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class _Provider:
    def __init__(self) -> None:
        self.user: dict[str, Any] = {
            "sub": "user-1",
            "email": "dana@example.com",
            "email_verified": True,
            "name": "Dana Scully",
        }
        self.requests: list[Recorded] = []
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self._http = LocalHTTPServer(_handler(self))

    @property
    def base_url(self) -> str:
        return self._http.origin

    def __enter__(self) -> Any:
        self._http.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.stop()

    def handle(self, method: str, path: str, params: dict[str, str], auth: str) -> Answer:
        raise NotImplementedError

    def _authorize(self, params: dict[str, str], *, oidc: bool) -> Answer:
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
            return Answer(400, {"error": "invalid_request"})
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return Answer(400, {"error": "invalid_request", "error_description": "PKCE needed"})
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            CLIENT_ID,
            params["redirect_uri"],
            params["code_challenge"],
            params.get("nonce") if oidc else None,
            dict(self.user),
        )
        query = urlencode({"code": code, "state": params.get("state", "")})
        return Answer(302, location=f"{params['redirect_uri']}?{query}")

    def _redeem(self, params: dict[str, str]) -> Grant | str:
        """The grant of the code, used up; or the OAuth error code."""
        grant = self.grants.pop(params.get("code", ""), None)
        if grant is None or params.get("redirect_uri") != grant.redirect_uri:
            return "invalid_grant"
        verifier = params.get("code_verifier", "")
        if not verifier or create_s256_code_challenge(verifier) != grant.code_challenge:
            return "invalid_grant"
        return grant


class FakeOIDC(_Provider):
    def __init__(self) -> None:
        super().__init__()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)
        self.sign_with = self.key
        self.email_in_id_token = True
        self.id_token_claims: dict[str, Any] = {}

    @property
    def issuer(self) -> str:
        return self.base_url

    def handle(self, method: str, path: str, params: dict[str, str], auth: str) -> Answer:
        if path == "/.well-known/openid-configuration":
            return Answer(
                200,
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.base_url + "/authorize",
                    "token_endpoint": self.base_url + "/token",
                    "jwks_uri": self.base_url + "/jwks",
                    "userinfo_endpoint": self.base_url + "/userinfo",
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                },
            )
        if path == "/authorize":
            return self._authorize(params, oidc=True)
        if path == "/jwks":
            return Answer(200, KeySet([self.key]).as_dict(private=False))
        if path == "/token" and method == "POST":
            return self._token(params, auth)
        if path == "/userinfo":
            user = self.tokens.get(auth.removeprefix("Bearer "))
            return Answer(200, user) if user else Answer(401, {"error": "invalid_token"})
        return Answer(404, {"error": "not_found"})

    def _token(self, params: dict[str, str], auth: str) -> Answer:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return Answer(401, {"error": "invalid_client"})
        if params.get("grant_type") != "authorization_code":
            return Answer(400, {"error": "unsupported_grant_type"})
        grant = self._redeem(params)
        if isinstance(grant, str):
            return Answer(400, {"error": grant})
        access_token = secrets.token_urlsafe(16)
        self.tokens[access_token] = grant.user
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": grant.user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
        }
        if self.email_in_id_token:
            claims.update(grant.user)
        claims.update(self.id_token_claims)
        header = {"alg": "RS256", "kid": "key-1"}
        id_token = jwt.encode(header, claims, self.sign_with)
        return Answer(
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
        )


class FakeGitHub(_Provider):
    def __init__(self) -> None:
        super().__init__()
        self.user = {"login": "octodana", "name": "Dana", "avatar_url": "https://x/a.png"}
        self.emails: list[dict[str, Any]] = [
            {"email": "dana@old.example", "primary": False, "verified": False},
            {"email": "dana@example.com", "primary": True, "verified": True},
        ]

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"

    def handle(self, method: str, path: str, params: dict[str, str], auth: str) -> Answer:
        if path == "/login/oauth/authorize":
            return self._authorize({"response_type": "code", **params}, oidc=False)
        if path == "/login/oauth/access_token" and method == "POST":
            if params.get("client_id") != CLIENT_ID or params.get("client_secret") != (
                CLIENT_SECRET
            ):
                return Answer(200, {"error": "incorrect_client_credentials"})
            grant = self._redeem(params)
            if isinstance(grant, str):
                return Answer(200, {"error": "bad_verification_code"})  # GitHub says 200
            token = "gho_" + secrets.token_urlsafe(16)
            self.tokens[token] = grant.user
            return Answer(200, {"access_token": token, "token_type": "bearer", "scope": ""})
        if path in ("/api/user", "/api/user/emails"):
            user = self.tokens.get(auth.removeprefix("Bearer "))
            if user is None:
                return Answer(401, {"message": "Bad credentials"})
            return Answer(200, user if path == "/api/user" else self.emails)
        return Answer(404, {"message": "Not Found"})


def _handler(provider: _Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            self._serve("POST", {k: v[0] for k, v in parse_qs(raw).items()})

        def _serve(self, method: str, form: dict[str, str]) -> None:
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()} | form
            auth = self.headers.get("Authorization", "")
            provider.requests.append(Recorded(method, url.path, params, dict(self.headers)))
            answer = provider.handle(method, url.path, params, auth)
            data = json.dumps(answer.body).encode() if answer.body is not None else b""
            self.send_response(answer.status)
            if answer.location:
                self.send_header("Location", answer.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
