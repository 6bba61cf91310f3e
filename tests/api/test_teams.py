"""Teams (``/v1/tenant/*``): invitations, agreement, removal, and what membership lets a member
see: the owner's ``team`` datasets, from the agreement until the removal, at once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.test_parsing import TEXT, new_dataset, parse, upload
from conftest import Account

BIRDS = {"conditions": [{"name": "kind", "comparison_operator": "is", "value": "birds"}]}
NO_AUTHORIZATION = {"code": 109, "message": "No authorization.", "data": False}


@pytest.fixture
def carol(client: TestClient) -> Account:
    return Account(client, "carol@example.com")


def invite(owner: Account, email: str, tenant_id: str | None = None) -> Any:
    return owner.post(f"/v1/tenant/{tenant_id or owner.id}/user", json={"email": email}).json()


def agree(member: Account, tenant_id: str) -> Any:
    return member.client.put(f"/v1/tenant/agree/{tenant_id}", headers=member.web_headers).json()


def remove(caller: Account, tenant_id: str, user_id: str) -> Any:
    return caller.client.delete(
        f"/v1/tenant/{tenant_id}/user/{user_id}", headers=caller.web_headers
    ).json()


def members(owner: Account, tenant_id: str | None = None) -> Any:
    return owner.get(f"/v1/tenant/{tenant_id or owner.id}/user/list").json()


def tenants(account: Account) -> Any:
    return account.get("/v1/tenant/list").json()


# --------------------------------------------------------------------------------------------
# the routes


def test_invite_list_agree(alice: Account, bob: Account) -> None:
    invited = invite(alice, "BOB@example.com")
    assert invited == {
        "code": 0,
        "message": "success",
        "data": {"id": bob.id, "email": "bob@example.com", "nickname": "bob", "avatar": None},
    }
    listed = members(alice)
    assert listed["code"] == 0
    (member,) = listed["data"]
    assert (member["user_id"], member["role"], member["email"]) == (bob.id, "invite", bob.email)
    assert member["is_active"] == "1" and member["delta_seconds"] >= 0 and member["update_date"]
    joined = tenants(bob)["data"]
    assert [(t["tenant_id"], t["role"], t["nickname"]) for t in joined] == [
        (bob.id, "owner", "bob"),
        (alice.id, "invite", "alice"),
    ]
    assert agree(bob, alice.id) == {"code": 0, "message": "success", "data": True}
    assert agree(bob, alice.id)["data"] is True  # agreeing again changes nothing
    assert [m["role"] for m in members(alice)["data"]] == ["normal"]
    assert [t["role"] for t in tenants(bob)["data"]] == ["owner", "normal"]
    assert [(t["tenant_id"], t["role"]) for t in tenants(alice)["data"]] == [(alice.id, "owner")]


def test_the_owner_removes_and_a_member_leaves(
    alice: Account, bob: Account, carol: Account
) -> None:
    for member in (bob, carol):
        invite(alice, member.email)
    agree(bob, alice.id)
    assert remove(alice, alice.id, bob.id) == {"code": 0, "message": "success", "data": True}
    assert remove(carol, alice.id, carol.id)["data"] is True  # leaving an invitation
    assert members(alice)["data"] == []
    assert [t["tenant_id"] for t in tenants(bob)["data"]] == [bob.id]


def test_routes_work_with_an_api_key(alice: Account, bob: Account) -> None:
    response = alice.client.post(
        f"/v1/tenant/{alice.id}/user", json={"email": bob.email}, headers=alice.api_headers
    )
    assert response.json()["code"] == 0
    listed = alice.client.get(f"/v1/tenant/{alice.id}/user/list", headers=alice.api_headers)
    assert [m["user_id"] for m in listed.json()["data"]] == [bob.id]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 101, "required argument are missing: email; "),
        ({"mail": "bob@example.com"}, 101, "required argument are missing: email; "),
        ({"email": "nobody@example.com"}, 102, "User not found."),
    ],
)
def test_invite_validation(
    alice: Account, bob: Account, body: dict[str, Any], code: int, message: str
) -> None:
    result = alice.post(f"/v1/tenant/{alice.id}/user", json=body).json()
    assert (result["code"], result["message"]) == (code, message)
    assert members(alice)["data"] == []


def test_invite_refuses_members_invitees_and_the_owner(alice: Account, bob: Account) -> None:
    invite(alice, bob.email)
    again = invite(alice, bob.email)
    assert again == {
        "code": 102,
        "message": "bob@example.com is in the team, but the role: invite is invalid.",
        "data": None,
    }
    agree(bob, alice.id)
    assert invite(alice, bob.email)["message"] == "bob@example.com is already in the team."
    assert invite(alice, alice.email)["message"] == "alice@example.com is the owner of the team."
    assert len(members(alice)["data"]) == 1


def test_only_the_owner_manages_the_team(alice: Account, bob: Account, carol: Account) -> None:
    invite(alice, bob.email)
    agree(bob, alice.id)
    invite(alice, carol.email)
    # a member is not the owner: no listing, no inviting, no removing someone else
    assert members(bob, alice.id) == NO_AUTHORIZATION
    assert invite(bob, "carol@example.com", alice.id) == NO_AUTHORIZATION
    assert remove(bob, alice.id, carol.id) == NO_AUTHORIZATION
    # another tenant's id and an unknown one alike
    assert members(carol, alice.id) == NO_AUTHORIZATION
    assert members(alice, "0" * 32) == NO_AUTHORIZATION
    assert invite(alice, bob.email, bob.id) == NO_AUTHORIZATION
    assert [m["user_id"] for m in members(alice)["data"]] == [bob.id, carol.id]


def test_missing_memberships_and_invitations(alice: Account, bob: Account) -> None:
    assert agree(bob, alice.id) == {
        "code": 102,
        "message": "You have no invitation to this team.",
        "data": None,
    }
    assert agree(bob, "0" * 32)["code"] == 102
    assert remove(alice, alice.id, bob.id) == {
        "code": 102,
        "message": "User not found in the team.",
        "data": None,
    }
    assert remove(alice, alice.id, "0" * 32)["code"] == 102
    assert remove(alice, alice.id, alice.id) == {
        "code": 102,
        "message": "The owner can't leave the team.",
        "data": None,
    }
    assert [t["role"] for t in tenants(alice)["data"]] == ["owner"]


def test_routes_need_a_credential(client: TestClient, alice: Account) -> None:
    for method, path in (
        ("GET", f"/v1/tenant/{alice.id}/user/list"),
        ("POST", f"/v1/tenant/{alice.id}/user"),
        ("DELETE", f"/v1/tenant/{alice.id}/user/{alice.id}"),
        ("GET", "/v1/tenant/list"),
        ("PUT", f"/v1/tenant/agree/{alice.id}"),
    ):
        response = client.request(method, path, json={"email": "x@example.com"})
        assert response.status_code == 401, (method, path)


# --------------------------------------------------------------------------------------------
# what membership gives


def _visible(member: Account) -> list[str]:
    body = member.client.get("/api/v1/datasets", headers=member.api_headers).json()
    return [dataset["name"] for dataset in body["data"]]


def _retrieve(member: Account, dataset_id: str) -> Any:
    return member.client.post(
        "/api/v1/retrieval",
        json={"question": "cranes", "dataset_ids": [dataset_id], "metadata_condition": BIRDS},
        headers=member.api_headers,
    ).json()


def test_team_datasets_from_agreement_to_removal(alice: Account, bob: Account) -> None:
    team = new_dataset(alice, name="shared", permission="team")
    new_dataset(alice, name="private", permission="me")
    document_id = upload(alice, team, "cranes.md", TEXT.encode())
    set_meta = alice.client.put(
        f"/api/v1/datasets/{team}/documents/{document_id}",
        json={"meta_fields": {"kind": "birds"}},
        headers=alice.api_headers,
    )
    assert set_meta.json()["code"] == 0
    assert parse(alice, team, [document_id]) == {"code": 0}
    assert _retrieve(alice, team)["data"]["chunks"]  # the owner's search fills the scope cache

    invite(alice, bob.email)
    assert _visible(bob) == []  # an invitation alone gives nothing
    assert _retrieve(bob, team)["code"] == 102

    agree(bob, alice.id)
    assert _visible(bob) == ["shared"]  # never the `me` dataset
    hits = _retrieve(bob, team)
    assert hits["code"] == 0 and hits["data"]["chunks"][0]["document_id"] == document_id
    early = bob.client.post(
        "/v1/api/list_kb_docs", json={"kb_name": "shared"}, headers=bob.api_headers
    ).json()
    assert early["data"]["docs"] == [{"doc_id": document_id, "doc_name": "cranes.md"}]
    download = bob.client.get(
        f"/api/v1/datasets/{team}/documents/{document_id}", headers=bob.api_headers
    )
    assert download.content == TEXT.encode()

    assert remove(alice, alice.id, bob.id)["data"] is True
    # at once, on every path: listing, retrieval (whose scope is cached), the early API, files
    assert _visible(bob) == []
    assert _retrieve(bob, team) == {"code": 102, "message": f"You don't own the dataset {team}."}
    early = bob.client.post(
        "/v1/api/list_kb_docs", json={"kb_name": "shared"}, headers=bob.api_headers
    ).json()
    assert early["retcode"] == 102
    download = bob.client.get(
        f"/api/v1/datasets/{team}/documents/{document_id}", headers=bob.api_headers
    ).json()
    assert download["code"] == 102
    assert _retrieve(alice, team)["data"]["chunks"]  # the owner keeps everything


def test_a_member_never_manages_the_team_datasets(alice: Account, bob: Account) -> None:
    team = new_dataset(alice, name="shared", permission="team")
    invite(alice, bob.email)
    agree(bob, alice.id)
    renamed = bob.client.put(
        f"/api/v1/datasets/{team}", json={"name": "mine"}, headers=bob.api_headers
    ).json()
    assert renamed["code"] == 108
    deleted = bob.client.request(
        "DELETE", "/api/v1/datasets", json={"ids": [team]}, headers=bob.api_headers
    ).json()
    assert deleted["code"] == 108
    assert _visible(alice) == ["shared"]


def test_a_member_uploads_through_the_early_api_but_sets_no_chunk_method(
    alice: Account, bob: Account
) -> None:
    new_dataset(alice, name="shared", permission="team")
    invite(alice, bob.email)
    agree(bob, alice.id)

    def early_upload(**form: str) -> Any:
        return bob.client.post(
            "/v1/api/document/upload",
            data={"kb_name": "shared", **form},
            files=[("file", ("cranes.md", TEXT.encode()))],
            headers=bob.api_headers,
        ).json()

    refused = early_upload(parser_id="qa")
    assert refused == {"retcode": 102, "retmsg": "You don't own the dataset.", "data": None}
    listed = alice.client.post(
        "/v1/api/list_kb_docs", json={"kb_name": "shared"}, headers=alice.api_headers
    ).json()["data"]
    assert listed["total"] == 0  # nothing was stored
    stored = early_upload()
    assert stored["retcode"] == 0 and stored["data"]["created_by"] == bob.id
