"""Every way a credential can fail, on API routes (``/api/v1``) and on web routes (``/v1``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from conftest import Account
from ragserve.api.deps import ApiCaller
from ragserve.services.users import delete_user

probe = APIRouter()


@probe.get("/api/v1/whoami")
def whoami(caller: ApiCaller) -> dict[str, Any]:
    return {"code": 0, "data": {"tenant_id": caller.tenant_id}}


@pytest.fixture(autouse=True)
def _probe_route(client: TestClient) -> None:
    client.app.include_router(probe)  # type: ignore[attr-defined]


INVALID_KEY = {"code": 109, "data": False, "message": "Authentication error: API key is invalid!"}


def test_api_token_identifies_the_tenant(client: TestClient, alice: Account) -> None:
    response = client.get("/api/v1/whoami", headers=alice.api_headers)
    assert response.json() == {"code": 0, "data": {"tenant_id": alice.id}}


def test_any_first_word_is_accepted(client: TestClient, alice: Account) -> None:
    response = client.get("/api/v1/whoami", headers={"Authorization": f"Token {alice.api_key}"})
    assert response.json()["code"] == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, {"code": 109, "data": False, "message": "`Authorization` can't be empty"}),
        (
            {"Authorization": ""},
            {"code": 109, "data": False, "message": "`Authorization` can't be empty"},
        ),
        (
            {"Authorization": "Bearer"},
            {"code": 109, "data": False, "message": "Please check your authorization format."},
        ),
        (
            {"Authorization": "Bearer a b"},
            {"code": 109, "data": False, "message": "Please check your authorization format."},
        ),
        ({"Authorization": "Bearer ragflow-unknown"}, INVALID_KEY),
    ],
)
def test_api_auth_failures_never_answer_code_0(
    client: TestClient, headers: dict[str, str], expected: dict[str, object]
) -> None:
    response = client.get("/api/v1/whoami", headers=headers)
    assert response.json() == expected


def test_revoked_token_is_refused(client: TestClient, alice: Account) -> None:
    client.delete(f"/v1/system/token/{alice.api_key}", headers=alice.web_headers)
    assert client.get("/api/v1/whoami", headers=alice.api_headers).json() == INVALID_KEY


def test_session_token_is_not_an_api_key(client: TestClient, alice: Account) -> None:
    response = client.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {alice.session_token}"}
    )
    assert response.json() == INVALID_KEY


def test_deleted_user_loses_session_and_tokens(client: TestClient, alice: Account) -> None:
    with client.app.state.runtime.transaction() as session:  # type: ignore[attr-defined]
        delete_user(session, alice.email)
    assert client.get("/v1/user/info", headers=alice.web_headers).status_code == 401
    assert client.get("/v1/user/info", headers=alice.api_headers).status_code == 401
    assert client.get("/api/v1/whoami", headers=alice.api_headers).json() == INVALID_KEY


def test_disabled_user_tokens_stop_working(client: TestClient, alice: Account) -> None:
    from ragserve.services.users import set_active

    with client.app.state.runtime.transaction() as session:  # type: ignore[attr-defined]
        set_active(session, alice.email, active=False)
    assert client.get("/api/v1/whoami", headers=alice.api_headers).json() == INVALID_KEY


def test_web_routes_accept_an_api_key(client: TestClient, alice: Account) -> None:
    info = client.get("/v1/user/info", headers=alice.api_headers).json()
    assert info["code"] == 0 and info["data"]["id"] == alice.id


@pytest.mark.parametrize(
    "authorization",
    [None, "", "garbage", "Bearer ragflow-unknown", "a.b.c", "Bearer x y"],
)
def test_web_auth_failures_are_http_401(client: TestClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/v1/user/info", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized", "data": None}


def test_tampered_session_token_is_refused(client: TestClient, alice: Account) -> None:
    token = alice.session_token
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get("/v1/user/info", headers={"Authorization": tampered}).status_code == 401


def test_expired_session_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from ragserve.security import SessionSigner

    signer = SessionSigner("k" * 40, max_age=60)
    token = signer.sign("abc")
    assert signer.unsign(token) == "abc"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 120)
    assert signer.unsign(token) is None
