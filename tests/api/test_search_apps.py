"""Saved search apps (``/v1/search/*``): create, update, detail, list, remove; their fixed
error texts; another tenant's apps and datasets refused; team members read the team's apps."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_parsing import new_dataset
from conftest import Account

NO_AUTHORIZATION = {"code": 109, "message": "No authorization.", "data": False}
NO_PERMISSION = {"code": 103, "message": "Has no permission for this operation.", "data": False}
MISSING_ID = "0" * 32


def create(account: Account, name: Any = "finder", **fields: Any) -> Any:
    return account.post("/v1/search/create", json={"name": name, **fields}).json()


def new_app(account: Account, name: str = "finder") -> str:
    result = create(account, name)
    assert result["code"] == 0, result
    search_id: str = result["data"]["search_id"]
    return search_id


def update(account: Account, search_id: str, **fields: Any) -> Any:
    body = {"search_id": search_id, "name": "finder", "tenant_id": account.id, "search_config": {}}
    return account.post("/v1/search/update", json={**body, **fields}).json()


def detail(account: Account, search_id: str) -> Any:
    return account.get("/v1/search/detail", params={"search_id": search_id}).json()


def listed(account: Account, params: dict[str, Any] | None = None, **body: Any) -> Any:
    return account.post("/v1/search/list", params=params or {}, json=body).json()


def rm(account: Account, search_id: str) -> Any:
    return account.post("/v1/search/rm", json={"search_id": search_id}).json()


def test_create_then_detail_has_the_default_config(alice: Account) -> None:
    result = create(alice, "  finder  ", description="all my papers")
    assert result["code"] == 0 and result["message"] == "success"
    search_id = result["data"]["search_id"]
    shown = detail(alice, search_id)["data"]
    assert shown["id"] == search_id
    assert (shown["name"], shown["description"]) == ("finder", "all my papers")
    assert (shown["tenant_id"], shown["created_by"], shown["nickname"]) == (
        alice.id,
        alice.id,
        "alice",
    )
    assert shown["search_config"] == {
        "kb_ids": [],
        "doc_ids": [],
        "similarity_threshold": 0.2,
        "vector_similarity_weight": 0.3,
        "use_kg": False,
        "rerank_id": "",
        "top_k": 1024,
        "summary": False,
        "chat_id": "",
        "llm_setting": {},
        "cross_languages": [],
        "highlight": False,
        "keyword": False,
        "web_search": False,
        "related_search": False,
        "query_mindmap": False,
    }


def test_a_taken_name_is_numbered(alice: Account, bob: Account) -> None:
    first, second = new_app(alice), new_app(alice, "FINDER")
    third = new_app(alice)
    names = [detail(alice, i)["data"]["name"] for i in (first, second, third)]
    assert names == ["finder", "FINDER(1)", "finder(2)"]
    # names are per tenant
    assert detail(bob, new_app(bob))["data"]["name"] == "finder"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 101, "required argument are missing: name; "),
        ({"name": 3}, 102, "Search name must be string."),
        ({"name": "   "}, 102, "Search name can't be empty."),
        ({"name": "é" * 128}, 102, "Search name length is 128 which is large than 255."),
    ],
)
def test_create_validation(alice: Account, body: dict[str, Any], code: int, message: str) -> None:
    result = alice.post("/v1/search/create", json=body).json()
    assert (result["code"], result["message"]) == (code, message)
    assert listed(alice)["data"]["total"] == 0


def test_update_merges_the_config(alice: Account) -> None:
    dataset_id = new_dataset(alice, name="papers")
    search_id = new_app(alice)
    first = update(
        alice,
        search_id,
        name=" renamed ",
        description="new words",
        search_config={"kb_ids": [dataset_id], "summary": True, "top_k": 50},
    )
    assert first["code"] == 0, first
    data = first["data"]
    assert (data["id"], data["name"], data["description"]) == (search_id, "renamed", "new words")
    assert data["search_config"]["kb_ids"] == [dataset_id]
    second = update(alice, search_id, name="renamed", search_config={"related_search": True})
    config = second["data"]["search_config"]
    assert (config["kb_ids"], config["summary"], config["top_k"]) == ([dataset_id], True, 50)
    assert config["related_search"] is True and config["similarity_threshold"] == 0.2
    assert detail(alice, search_id)["data"]["search_config"] == config


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"name": 1}, 102, "Search name must be string."),
        ({"name": ""}, 102, "Search name can't be empty."),
        ({"name": "a" * 256}, 102, "Search name length is 256 which is large than 255."),
        ({"search_config": [1]}, 102, "search_config must be a JSON object"),
        ({"search_config": {"kb_ids": "x"}}, 102, "`kb_ids` should be a list of ids"),
        ({"id": "x"}, 101, "Parameter id isn't allowed"),
        ({"created_by": "x"}, 101, "Parameter created_by isn't allowed"),
    ],
)
def test_update_validation(alice: Account, fields: dict[str, Any], code: int, message: str) -> None:
    search_id = new_app(alice)
    result = update(alice, search_id, **fields)
    assert (result["code"], result["message"]) == (code, message)
    assert detail(alice, search_id)["data"]["name"] == "finder"


def test_update_requires_its_arguments(alice: Account) -> None:
    result = alice.post("/v1/search/update", json={"search_id": new_app(alice)}).json()
    assert (result["code"], result["message"]) == (
        101,
        "required argument are missing: name,search_config,tenant_id; ",
    )


def test_update_refuses_a_duplicate_name(alice: Account) -> None:
    new_app(alice, "taken")
    search_id = new_app(alice)
    assert update(alice, search_id, name="TAKEN")["message"] == "Duplicated search name."
    assert update(alice, search_id, name="FINDER")["data"]["name"] == "FINDER"  # its own name


def test_update_refuses_other_tenants_datasets(alice: Account, bob: Account) -> None:
    theirs = new_dataset(bob, name="private")
    search_id = new_app(alice)
    result = update(alice, search_id, search_config={"kb_ids": [theirs]})
    assert (result["code"], result["message"]) == (102, f"You don't own the dataset {theirs}.")
    missing = update(alice, search_id, search_config={"kb_ids": [MISSING_ID]})
    assert missing["message"] == f"You don't own the dataset {MISSING_ID}."
    assert detail(alice, search_id)["data"]["search_config"]["kb_ids"] == []


def test_another_tenants_app_is_refused(alice: Account, bob: Account) -> None:
    search_id = new_app(alice)
    assert update(bob, search_id) == NO_AUTHORIZATION
    assert update(bob, search_id, tenant_id=alice.id) == NO_AUTHORIZATION
    assert detail(bob, search_id) == NO_PERMISSION
    assert rm(bob, search_id) == NO_AUTHORIZATION
    assert listed(bob)["data"] == {"search_apps": [], "total": 0}
    assert listed(bob, owner_ids=[alice.id])["data"]["total"] == 0
    assert detail(alice, search_id)["data"]["name"] == "finder"


def test_missing_apps(alice: Account) -> None:
    assert update(alice, MISSING_ID) == NO_AUTHORIZATION
    assert detail(alice, MISSING_ID) == NO_PERMISSION
    assert rm(alice, MISSING_ID) == NO_AUTHORIZATION
    result = alice.get("/v1/search/detail").json()
    assert result["code"] == 101
    result = alice.post("/v1/search/rm", json={}).json()
    assert (result["code"], result["message"]) == (
        101,
        "required argument are missing: search_id; ",
    )


def test_update_with_the_wrong_tenant(alice: Account, bob: Account) -> None:
    search_id = new_app(alice)
    # a tenant the caller does not belong to
    assert update(alice, search_id, tenant_id=bob.id) == NO_AUTHORIZATION


def test_list_filters_sorts_and_pages(alice: Account, bob: Account) -> None:
    ids = [new_app(alice, name) for name in ("alpha", "beta", "gamma apps", "delta apps")]
    new_app(bob, "bobs apps")
    everything = listed(alice)["data"]
    assert everything["total"] == 4
    assert [app["id"] for app in everything["search_apps"]] == ids[::-1]  # newest first
    first = everything["search_apps"][-1]
    assert (first["name"], first["nickname"], first["tenant_id"]) == ("alpha", "alice", alice.id)
    assert "search_config" not in first
    oldest = listed(alice, {"desc": "false", "page": 2, "page_size": 2})["data"]
    assert oldest["total"] == 4
    assert [app["name"] for app in oldest["search_apps"]] == ["gamma apps", "delta apps"]
    by_name = listed(alice, {"orderby": "name", "desc": "false", "keywords": "APPS"})["data"]
    assert [app["name"] for app in by_name["search_apps"]] == ["delta apps", "gamma apps"]
    assert by_name["total"] == 2
    assert listed(alice, owner_ids=[alice.id])["data"]["total"] == 4
    no_body = alice.post("/v1/search/list").json()
    assert no_body["data"]["total"] == 4


def test_list_validation(alice: Account) -> None:
    result = listed(alice, {"page": "x"})
    assert result["code"] == 101
    assert listed(alice, owner_ids="x")["code"] == 101
    # bounded so that the page offset fits the database's integers (was HTTP 500)
    huge = listed(alice, {"page": 2**62, "page_size": 2**62})
    assert huge["code"] == 101 and "page" in huge["message"], huge


def test_rm(alice: Account) -> None:
    search_id, kept = new_app(alice), new_app(alice, "kept")
    assert rm(alice, search_id) == {"code": 0, "message": "success", "data": True}
    assert detail(alice, search_id) == NO_PERMISSION
    assert rm(alice, search_id) == NO_AUTHORIZATION
    assert [app["id"] for app in listed(alice)["data"]["search_apps"]] == [kept]


def test_team_members_read_but_only_the_creator_edits(alice: Account, bob: Account) -> None:
    search_id = new_app(alice)
    alice.post(f"/v1/tenant/{alice.id}/user", json={"email": bob.email})
    bob.client.put(f"/v1/tenant/agree/{alice.id}", headers=bob.web_headers)
    assert detail(bob, search_id)["data"]["name"] == "finder"
    assert [app["id"] for app in listed(bob)["data"]["search_apps"]] == [search_id]
    assert listed(bob, owner_ids=[bob.id])["data"]["total"] == 0
    assert update(bob, search_id, tenant_id=alice.id) == NO_AUTHORIZATION
    assert rm(bob, search_id) == NO_AUTHORIZATION


def test_routes_need_a_login(alice: Account) -> None:
    result = alice.client.post("/v1/search/create", json={"name": "x"}).json()
    assert result["code"] == 401
    with_key = alice.client.post(
        "/v1/search/create", json={"name": "x"}, headers=alice.api_headers
    ).json()
    assert with_key["code"] == 0
