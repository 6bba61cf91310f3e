from __future__ import annotations

import re

from fastapi.testclient import TestClient

from conftest import Account


def test_new_token_format_and_fields(alice: Account) -> None:
    data = alice.post("/v1/system/new_token").json()["data"]
    assert re.fullmatch(r"ragflow-[A-Za-z0-9_-]{32}", data["token"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", data["beta"])
    assert data["tenant_id"] == alice.id
    assert isinstance(data["create_time"], int)
    assert data["update_time"] is None and data["update_date"] is None


def test_token_list_shows_only_a_prefix(alice: Account) -> None:
    listed = alice.get("/v1/system/token_list").json()["data"]
    assert len(listed) == 1
    assert listed[0]["token"] == alice.api_key[:16]
    assert listed[0]["tenant_id"] == alice.id


def test_tokens_are_stored_hashed(client: TestClient, alice: Account) -> None:
    from sqlalchemy import text

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.engine.connect() as connection:
        dump = repr(connection.execute(text("SELECT * FROM api_token")).all())
    assert alice.api_key not in dump
    assert alice.api_key[8:] not in dump


def test_revoke_by_full_token(alice: Account) -> None:
    response = alice.client.delete(f"/v1/system/token/{alice.api_key}", headers=alice.web_headers)
    assert response.json() == {"code": 0, "message": "success", "data": True}
    assert alice.get("/v1/system/token_list").json()["data"] == []
    revoked = alice.client.get("/v1/user/info", headers=alice.api_headers)
    assert revoked.status_code == 401


def test_revoke_by_listed_prefix(alice: Account) -> None:
    second = alice.post("/v1/system/new_token").json()["data"]["token"]
    listed = [row["token"] for row in alice.get("/v1/system/token_list").json()["data"]]
    assert (
        alice.client.delete(f"/v1/system/token/{listed[0]}", headers=alice.web_headers).json()[
            "code"
        ]
        == 0
    )
    remaining = alice.get("/v1/system/token_list").json()["data"]
    assert [row["token"] for row in remaining] == [second[:16]]


def test_revoke_unknown_or_foreign_token_is_not_found(alice: Account, bob: Account) -> None:
    for token in (bob.api_key, bob.api_key[:16], "ragflow-doesnotexist", "nonsense"):
        result = alice.client.delete(f"/v1/system/token/{token}", headers=alice.web_headers).json()
        assert result == {"code": 102, "message": "Token not found!", "data": None}
    assert len(bob.get("/v1/system/token_list").json()["data"]) == 1


def test_tokens_are_per_tenant(alice: Account, bob: Account) -> None:
    alice_tokens = alice.get("/v1/system/token_list").json()["data"]
    assert {row["tenant_id"] for row in alice_tokens} == {alice.id}
    bob_info = bob.client.get("/v1/user/info", headers=bob.api_headers).json()["data"]
    assert bob_info["id"] == bob.id


def test_token_list_shows_the_beta_made_with_the_token(client: TestClient, alice: Account) -> None:
    from sqlalchemy import text

    made = alice.post("/v1/system/new_token").json()["data"]
    listed = alice.get("/v1/system/token_list").json()["data"]
    assert [row["token"] for row in listed] == [alice.api_key[:16], made["token"][:16]]
    assert listed[1]["beta"] == made["beta"]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", row["beta"]) for row in listed)
    assert listed[0]["beta"] != listed[1]["beta"]
    again = alice.get("/v1/system/token_list").json()["data"]
    assert [row["beta"] for row in again] == [row["beta"] for row in listed]  # stable
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.engine.connect() as connection:
        dump = repr(connection.execute(text("SELECT * FROM api_token")).all())
    assert made["beta"] not in dump  # stored encrypted


def test_a_token_without_a_stored_beta_gets_one_when_listed(
    client: TestClient, alice: Account, bob: Account
) -> None:
    from sqlalchemy import text

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE api_token SET beta_secret = NULL"))
    (first,) = alice.get("/v1/system/token_list").json()["data"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first["beta"])
    (second,) = alice.get("/v1/system/token_list").json()["data"]
    assert second["beta"] == first["beta"]
    (bobs,) = bob.get("/v1/system/token_list").json()["data"]
    assert bobs["beta"] != first["beta"]  # each tenant sees only its own tokens' betas
