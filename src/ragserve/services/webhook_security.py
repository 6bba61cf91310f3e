"""The checks a webhook call passes before its agent runs (spec ragflow-more A.8, ragflow-api
2.9): the Begin's ``security`` (``max_body_size``, ``ip_whitelist``, ``rate_limit``, then the
``auth_type``: none, token, basic or jwt), in RAGFlow's order and with its messages. Each
failure is a ``WebhookRefused`` (HTTP 400); over the rate limit, ``WebhookRateLimited``
(HTTP 429). The rate limit is a token bucket per agent kept in the database
(``WebhookRate``), so every server process counts the same calls.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import WebhookRate
from ragserve.errors import WebhookRateLimited, WebhookRefused
from ragserve.runtime import Runtime

MAX_BODY_LIMIT = 10 * 1024 * 1024
"""The largest ``max_body_size`` a webhook may set (10MB), and the limit of one without it."""
SIZE_UNITS = {"kb": 1024, "mb": 1024**2}
WINDOWS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RESERVED_CLAIMS = frozenset({"exp", "sub", "aud", "iss", "nbf", "iat"})


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook call as the service sees it, HTTP already read."""

    method: str
    client_host: str
    headers: Mapping[str, str]
    """Case-insensitive (Starlette's ``Headers``) or lower-case names."""
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


def body_limit(security: Mapping[str, Any]) -> int:
    """The most bytes a call's body may have: ``max_body_size`` (``"<n>kb"`` or ``"<n>mb"``,
    at most 10MB), else 10MB."""
    size = security.get("max_body_size")
    if not size:
        return MAX_BODY_LIMIT
    text = str(size).strip().lower()
    for suffix, factor in SIZE_UNITS.items():
        number = text.removesuffix(suffix).strip()
        if text.endswith(suffix) and number.isdigit():
            limit = int(number) * factor
            break
    else:
        raise WebhookRefused("Invalid max_body_size format")
    if limit > MAX_BODY_LIMIT:
        raise WebhookRefused("max_body_size exceeds maximum allowed size (10MB)")
    return limit


def check_body_size(security: Mapping[str, Any], size: int) -> None:
    limit = body_limit(security)
    if size > limit:
        raise WebhookRefused(f"Request body too large: {size} > {limit}")


def check_ip(security: Mapping[str, Any], client_host: str) -> None:
    """The caller's address must match an ``ip_whitelist`` entry (an address or a CIDR
    network) when the list is not empty. The address is the TCP peer's: behind a proxy, list
    the proxy."""
    allowed = security.get("ip_whitelist") or []
    if not allowed:
        return
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        address = None
    for rule in allowed if isinstance(allowed, list) else [allowed]:
        rule = str(rule).strip()
        if "/" in rule:
            try:
                network = ipaddress.ip_network(rule, strict=False)
            except ValueError as error:
                raise WebhookRefused(f"Invalid ip_whitelist entry: {rule}") from error
            if address is not None and address in network:
                return
        elif rule == client_host:
            return
    raise WebhookRefused(f"IP {client_host} is not allowed by whitelist")


def check_rate(session: Session, agent_id: str, security: Mapping[str, Any]) -> None:
    """Take a token from the agent's bucket (``rate_limit: {limit, per}``: ``limit`` calls per
    second, minute, hour or day, refilled evenly); refused when it is empty."""
    rule = security.get("rate_limit")
    if not isinstance(rule, dict) or not rule:
        return
    try:
        limit = int(rule.get("limit", 60))
    except (TypeError, ValueError) as error:
        raise WebhookRefused("rate_limit.limit must be > 0") from error
    if limit <= 0:
        raise WebhookRefused("rate_limit.limit must be > 0")
    per = rule.get("per", "minute")
    window = WINDOWS.get(per) if isinstance(per, str) else None
    if window is None:
        raise WebhookRefused(f"Invalid rate_limit.per: {per}")
    now = time.time()
    bucket = session.scalars(
        select(WebhookRate).where(WebhookRate.agent_id == agent_id).with_for_update()
    ).first()
    if bucket is None:
        bucket = WebhookRate(agent_id=agent_id, tokens=float(limit), checked=now)
        session.add(bucket)
    tokens = min(float(limit), bucket.tokens + (now - bucket.checked) * limit / window)
    allowed = tokens >= 1.0
    bucket.tokens = tokens - 1.0 if allowed else tokens
    bucket.checked = now
    session.flush()
    if not allowed:
        raise WebhookRateLimited("Rate limit error: Too many requests (rate limit exceeded)")


def check_auth(security: Mapping[str, Any], request: WebhookRequest) -> None:
    kind = security.get("auth_type") or "none"
    if kind == "none":
        return
    if kind == "token":
        _check_token(_section(security, "token"), request)
    elif kind == "basic":
        _check_basic(_section(security, "basic_auth"), request)
    elif kind == "jwt":
        check_jwt(_section(security, "jwt"), request.header("Authorization") or "")
    else:
        raise WebhookRefused(f"Unsupported auth_type: {kind}")


def _same(given: str | None, expected: Any) -> bool:
    if given is None or not isinstance(expected, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_token(config: Mapping[str, Any], request: WebhookRequest) -> None:
    header = config.get("token_header")
    given = request.header(header) if isinstance(header, str) and header else None
    if not _same(given, config.get("token_value")):
        raise WebhookRefused("Invalid token authentication")


def _check_basic(config: Mapping[str, Any], request: WebhookRequest) -> None:
    refused = WebhookRefused("Invalid Basic Auth credentials")
    scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        raise refused
    try:
        username, colon, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise refused from error
    if not colon:
        raise refused
    # both compared, so the time taken says nothing about which one is wrong
    user_ok = _same(username, config.get("username"))
    password_ok = _same(password, config.get("password"))
    if not (user_ok and password_ok):
        raise refused


def _jwt_key(secret: str, algorithm: str) -> Any:
    """The key that checks ``algorithm``: the secret itself for HS*, a PEM public key for the
    others."""
    if algorithm.startswith("HS"):
        return OctKey.import_key(secret)
    family = algorithm[:2]
    if family not in ("RS", "PS", "ES", "Ed"):
        raise WebhookRefused(f"Invalid JWT: unsupported algorithm {algorithm}")
    try:
        if family in ("RS", "PS"):
            return RSAKey.import_key(secret)
        if family == "ES":
            return ECKey.import_key(secret)
        return OKPKey.import_key(secret)
    except (JoseError, ValueError, TypeError) as error:
        raise WebhookRefused("Invalid JWT: the configured key cannot be read") from error


def check_jwt(config: Mapping[str, Any], authorization: str) -> dict[str, Any]:
    """The claims of the ``Authorization: Bearer`` token, checked with the configured
    ``secret`` and ``algorithm`` (HS256), ``exp``/``nbf`` when present, ``audience`` and
    ``issuer`` when configured, and ``required_claims``."""
    secret = config.get("secret")
    if not secret or not isinstance(secret, str):
        raise WebhookRefused("JWT secret not configured")
    if not authorization.startswith("Bearer "):
        raise WebhookRefused("Missing Bearer token")
    token = authorization[len("Bearer ") :].strip()
    if not token:
        raise WebhookRefused("Empty Bearer token")
    configured = config.get("algorithm") or "HS256"
    algorithm = str(configured).upper() if str(configured)[:2] != "Ed" else str(configured)
    key = _jwt_key(secret, algorithm)
    expected: dict[str, Any] = {}
    if config.get("audience"):
        expected["aud"] = {"essential": True, "value": config["audience"]}
    if config.get("issuer"):
        expected["iss"] = {"essential": True, "value": config["issuer"]}
    try:
        decoded = jwt.decode(token, key, algorithms=[algorithm])
        jwt.JWTClaimsRegistry(**expected).validate(decoded.claims)
    except ExpiredTokenError as error:
        raise WebhookRefused("Invalid JWT: Signature has expired") from error
    except ClaimError as error:
        raise WebhookRefused(f"Invalid JWT: {error.description}") from error
    except (JoseError, ValueError, TypeError) as error:
        detail = getattr(error, "description", None) or type(error).__name__
        raise WebhookRefused(f"Invalid JWT: {detail}") from error
    claims: dict[str, Any] = dict(decoded.claims)
    required = config.get("required_claims") or []
    names = [required] if isinstance(required, str) else list(required)
    names = [name for name in names if isinstance(name, str) and name.strip()]
    for name in names:
        if name in RESERVED_CLAIMS:
            raise WebhookRefused(f"Reserved JWT claim cannot be required: {name}")
    for name in names:
        if name not in claims:
            raise WebhookRefused(f"Missing JWT claim: {name}")
    return claims


def check_security(
    runtime: Runtime, agent_id: str, security: Mapping[str, Any], request: WebhookRequest
) -> None:
    """Every check of the Begin's ``security``, in RAGFlow's order. The rate-limit token is
    taken in its own transaction, so that a call refused afterwards (a wrong credential) still
    counts: guessing credentials is rate-limited too."""
    if not security:
        return
    check_body_size(security, len(request.body))
    check_ip(security, request.client_host)
    with runtime.transaction() as session:
        check_rate(session, agent_id, security)
    check_auth(security, request)
