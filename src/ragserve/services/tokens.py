"""API tokens: create, list, revoke. Only a digest of each token is stored; its ``beta`` twin
(the credential of embedded widgets) is stored encrypted too, so that listings show it, as
RAGFlow's do, and a token without a readable beta gets a new one when listed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ragserve.db.models import ApiToken
from ragserve.errors import DataError
from ragserve.schemas.system import TokenPublic
from ragserve.security import (
    API_TOKEN_PREFIX,
    new_api_token,
    new_beta_token,
    token_digest,
    token_display,
)
from ragserve.services.secrets import SecretBox, SecretUnreadable
from ragserve.services.tenancy import Caller, owned_by, scoped
from ragserve.services.users import owner_tenant
from ragserve.timeutil import rfc1123


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: the only time its secret (and its beta twin) can be read."""

    record: ApiToken
    token: str
    beta: str


def create_token(session: Session, caller: Caller, box: SecretBox | None = None) -> NewToken:
    """A new token of the caller's tenant; with ``box``, its beta is kept for listings (else
    the first listing makes a new beta)."""
    tenant = owner_tenant(session, caller)
    while True:
        token = new_api_token()
        display = token_display(token)
        taken = session.scalars(
            scoped(ApiToken, caller).where(ApiToken.token_prefix == display)
        ).first()
        if taken is None:
            break
    beta = new_beta_token()
    record = ApiToken(
        tenant_id=tenant.id,
        token_hash=token_digest(token),
        token_prefix=display,
        beta_hash=token_digest(beta),
        beta_secret=box.encrypt(beta) if box is not None else None,
    )
    session.add(record)
    session.flush()
    return NewToken(record=record, token=token, beta=beta)


def list_tokens(session: Session, caller: Caller) -> list[ApiToken]:
    return list(session.scalars(scoped(ApiToken, caller).order_by(ApiToken.create_time)))


def revoke_token(session: Session, caller: Caller, token: str) -> None:
    """Revoke by the full token, or by the shortened form that listings show."""
    if not token.startswith(API_TOKEN_PREFIX):
        raise DataError("Token not found!")
    if len(token) > len(token_display(token)):
        match = ApiToken.token_hash == token_digest(token)
    else:
        match = ApiToken.token_prefix == token
    result = session.execute(delete(ApiToken).where(owned_by(ApiToken, caller), match))
    if int(getattr(result, "rowcount", 0)) == 0:
        raise DataError("Token not found!")


def find_token(session: Session, token: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    ).first()


def public(record: ApiToken, token: str, beta: str | None) -> TokenPublic:
    """The token as RAGFlow shows it; ``token`` and ``beta`` as the caller may see them."""
    return TokenPublic(
        tenant_id=record.tenant_id,
        token=token,
        beta=beta,
        dialog_id=record.dialog_id,
        source=record.source,
        create_time=record.create_time,
        create_date=rfc1123(record.create_date),
        update_time=record.update_time,
        update_date=rfc1123(record.update_date),
    )


def created(made: NewToken) -> TokenPublic:
    """A token just made: the whole secret and its beta twin, no update time (RAGFlow's)."""
    shown = public(made.record, made.token, made.beta)
    return shown.model_copy(update={"update_time": None, "update_date": None})


def _beta(record: ApiToken, box: SecretBox) -> str:
    """The token's beta; a new one when none is stored or it cannot be read (``secret_key``
    changed), as RAGFlow makes a missing beta when listing."""
    if record.beta_secret is not None:
        try:
            return box.decrypt(record.beta_secret)
        except SecretUnreadable:
            pass
    beta = new_beta_token()
    record.beta_hash = token_digest(beta)
    record.beta_secret = box.encrypt(beta)
    return beta


def listed(session: Session, caller: Caller, box: SecretBox) -> list[TokenPublic]:
    """The caller's tokens, oldest first, by the prefix that lists show, with their betas.
    Run it in a transaction: a missing beta is made and stored."""
    shown = [
        public(record, record.token_prefix, _beta(record, box))
        for record in list_tokens(session, caller)
    ]
    session.flush()
    return shown
