"""Turn an ``Authorization`` header into a ``Caller``, for API routes and for web routes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import ApiToken, User
from ragserve.errors import AuthenticationError, DataError, Unauthorized
from ragserve.security import SessionSigner, token_digest
from ragserve.services.tenancy import Caller, CredentialKind

EMPTY_AUTHORIZATION = "`Authorization` can't be empty"
BAD_AUTHORIZATION_FORMAT = "Please check your authorization format."
INVALID_API_KEY = "Authentication error: API key is invalid!"
# RAGFlow's texts for the embedded widgets' beta token, stray quote included (spec 0.2)
BAD_BETA_AUTHORIZATION = 'Authorization is not valid!"'
INVALID_BETA_TOKEN = 'Authentication error: API key is invalid!"'  # noqa: S105  (a message)


def authenticate_api_key(session: Session, authorization: str | None) -> Caller:
    """``Authorization: Bearer <api token>`` (any first word, as RAGFlow) to the token's tenant.

    Failures carry ``data: false`` as RAGFlow's do, but never code 0.
    """
    if not authorization or not authorization.strip():
        raise AuthenticationError(EMPTY_AUTHORIZATION, data=False)
    parts = authorization.split()
    if len(parts) != 2:
        raise AuthenticationError(BAD_AUTHORIZATION_FORMAT, data=False)
    caller = _caller_for_api_token(session, parts[1])
    if caller is None:
        raise AuthenticationError(INVALID_API_KEY, data=False)
    return caller


def authenticate_beta(session: Session, authorization: str | None) -> Caller:
    """``Authorization: Bearer <beta>`` of the embedded widgets (``/api/v1/chatbots|agentbots|
    searchbots``) to the tenant of the API token the beta belongs to. Only betas count: an API
    token or a login token is refused here, as a beta is refused everywhere else. Failures are
    RAGFlow's 102s (a missing header too, where RAGFlow fails with an exception)."""
    parts = (authorization or "").split()
    if len(parts) != 2:
        raise DataError(BAD_BETA_AUTHORIZATION)
    tenant_id = session.scalar(
        select(ApiToken.tenant_id)
        .join(User, User.id == ApiToken.tenant_id)
        .where(ApiToken.beta_hash == token_digest(parts[1]), User.is_active.is_(True))
        .limit(1)
    )
    if tenant_id is None:
        raise DataError(INVALID_BETA_TOKEN)
    return Caller(tenant_id, tenant_id, CredentialKind.API_TOKEN)


def authenticate_web(session: Session, authorization: str | None, signer: SessionSigner) -> Caller:
    """A web session token as login returned it, or else ``<word> <api token>``."""
    if authorization:
        access_token = signer.unsign(authorization.strip())
        if access_token is not None:
            user = session.scalars(select(User).where(User.access_token == access_token)).first()
            if user is not None and user.is_active:
                return Caller(user.id, user.id, CredentialKind.SESSION)
        parts = authorization.split()
        if len(parts) == 2:
            caller = _caller_for_api_token(session, parts[1])
            if caller is not None:
                return caller
    raise Unauthorized("Unauthorized", data=None)


def _caller_for_api_token(session: Session, token: str) -> Caller | None:
    """The token's tenant if its owner is active; one query, as every API call makes it."""
    tenant_id = session.scalar(
        select(ApiToken.tenant_id)
        .join(User, User.id == ApiToken.tenant_id)
        .where(ApiToken.token_hash == token_digest(token), User.is_active.is_(True))
    )
    if tenant_id is None:
        return None
    return Caller(tenant_id, tenant_id, CredentialKind.API_TOKEN)
