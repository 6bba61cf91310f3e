"""Account, token and tenancy services against every metadata store backend."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from ragserve.db.engine import make_session_factory, transaction
from ragserve.db.models import ApiToken, User, UserTenant
from ragserve.errors import AuthenticationError, DataError, OperatingError
from ragserve.services import tokens, users
from ragserve.services.auth import authenticate_api_key
from ragserve.services.tenancy import Caller, CredentialKind, get_owned, member_tenant_ids, scoped
from ragserve.services.users import TenantDefaults

DEFAULTS = TenantDefaults(embd_id="all-MiniLM-L6-v2@Builtin")


def make_user(engine: Engine, email: str) -> Caller:
    with transaction(make_session_factory(engine)) as session:
        user = users.create_account(
            session, email=email, nickname=email.split("@")[0], password="pw", defaults=DEFAULTS
        )
        return Caller(user.id, user.id, CredentialKind.SESSION)


def test_account_round_trip(engine: Engine) -> None:
    caller = make_user(engine, "ann@example.com")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        user = users.login(session, email="ANN@example.com", password="pw")
        assert user.id == caller.user_id
        tenant = users.owner_tenant(session, caller)
        assert tenant.id == caller.user_id and tenant.embd_id == DEFAULTS.embd_id
        with pytest.raises(AuthenticationError):
            users.login(session, email="ann@example.com", password="nope")


def test_duplicate_email_is_refused(engine: Engine) -> None:
    make_user(engine, "dup@example.com")
    with pytest.raises(OperatingError, match="has already registered"):
        make_user(engine, "Dup@Example.com")


def test_token_lifecycle(engine: Engine) -> None:
    caller = make_user(engine, "tok@example.com")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        made = tokens.create_token(session, caller)
    with transaction(sessions) as session:
        found = authenticate_api_key(session, f"Bearer {made.token}")
        assert found.tenant_id == caller.tenant_id
        tokens.revoke_token(session, caller, made.token)
    with transaction(sessions) as session, pytest.raises(AuthenticationError):
        authenticate_api_key(session, f"Bearer {made.token}")


def test_scoped_queries_hide_other_tenants(engine: Engine) -> None:
    ann = make_user(engine, "a@example.com")
    ben = make_user(engine, "b@example.com")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        ann_token = tokens.create_token(session, ann).record.id
        ben_token = tokens.create_token(session, ben).record.id
    with transaction(sessions) as session:
        assert get_owned(session, ApiToken, ann_token, ann) is not None
        assert get_owned(session, ApiToken, ben_token, ann) is None
        assert get_owned(session, ApiToken, "0" * 32, ann) is None
        visible = session.scalars(scoped(ApiToken, ann)).all()
        assert [token.id for token in visible] == [ann_token]
        with pytest.raises(DataError):
            tokens.revoke_token(session, ann, "ragflow-" + "x" * 8)


def test_member_tenants(engine: Engine) -> None:
    ann = make_user(engine, "m1@example.com")
    ben = make_user(engine, "m2@example.com")
    sessions = make_session_factory(engine)
    assert_members = [ann.tenant_id]
    with transaction(sessions) as session:
        assert member_tenant_ids(session, ann) == assert_members
        session.add(UserTenant(user_id=ann.user_id, tenant_id=ben.tenant_id, role="normal"))
    with transaction(sessions) as session:
        assert member_tenant_ids(session, ann) == [ann.tenant_id, ben.tenant_id]
        assert member_tenant_ids(session, ben) == [ben.tenant_id]


def test_deleting_a_user_cascades(engine: Engine) -> None:
    caller = make_user(engine, "gone@example.com")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        tokens.create_token(session, caller)
    with transaction(sessions) as session:
        users.delete_user(session, "gone@example.com")
    with transaction(sessions) as session:
        assert session.get(User, caller.user_id) is None
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert session.scalar(select(func.count()).select_from(UserTenant)) == 0


def test_unicode_nickname_and_long_email(engine: Engine) -> None:
    email = "x" * 200 + "@example.com"
    with transaction(make_session_factory(engine)) as session:
        user = users.create_account(
            session, email=email, nickname="测试用户 ünï", password="pw", defaults=DEFAULTS
        )
    with transaction(make_session_factory(engine)) as session:
        assert session.get(User, user.id).nickname == "测试用户 ünï"  # type: ignore[union-attr]
