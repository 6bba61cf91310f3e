"""The admin API (``/api/v1/admin``): superusers only, every action audited."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.test_agents import ECHO_DSL
from api.test_parsing import new_dataset, parse, upload
from conftest import Account
from ragserve.app import create_app
from ragserve.db.models import (
    Agent,
    AgentSession,
    AgentVersion,
    ApiToken,
    Chat,
    ChatSession,
    Dataset,
    Document,
    IngestTask,
    StoreSync,
    Tenant,
    TenantModel,
    User,
    UserTenant,
)
from ragserve.runtime import Runtime
from ragserve.services import users
from ragserve.settings import Settings

ADMIN = "/api/v1/admin"
ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "root-password"


class Root:
    """The administrator, logged in through the admin API."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        response = client.post(
            f"{ADMIN}/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
        )
        assert response.json()["code"] == 0, response.json()
        self.token = response.headers["Authorization"]
        self.id: str = response.json()["data"]["id"]

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.request(
            method, ADMIN + path, headers={"Authorization": self.token}, **kwargs
        )
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.call("GET", path, **kwargs)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.call(method, path, **kwargs)
        assert body["code"] == 0, body
        return body["data"]


def make_superuser(
    runtime: Runtime, email: str = ROOT_EMAIL, password: str = ROOT_PASSWORD
) -> None:
    with runtime.transaction() as session:
        users.create_account(
            session,
            email=email,
            nickname=email.split("@")[0],
            password=password,
            defaults=runtime.tenant_defaults,
            superuser=True,
        )


@pytest.fixture
def root(client: TestClient, runtime: Runtime) -> Root:
    make_superuser(runtime)
    return Root(client)


# Every admin route but the unauthenticated ones, with a body each accepts.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/logout", None),
    ("GET", "/users", None),
    ("POST", "/users", {"username": "x@example.com", "password": "pw"}),
    ("GET", "/users/alice@example.com", None),
    ("DELETE", "/users/alice@example.com", None),
    ("PUT", "/users/alice@example.com/password", {"new_password": "pw"}),
    ("PUT", "/users/alice@example.com/activate", {"activate_status": "off"}),
    ("PUT", "/users/alice@example.com/admin", None),
    ("DELETE", "/users/alice@example.com/admin", None),
    ("PUT", "/users/alice@example.com/role", {"role_name": "admin"}),
    ("GET", "/users/alice@example.com/permission", None),
    ("GET", "/users/alice@example.com/datasets", None),
    ("GET", "/users/alice@example.com/agents", None),
    ("GET", "/roles", None),
    ("POST", "/users/alice@example.com/keys", None),
    ("GET", "/users/alice@example.com/keys", None),
    ("DELETE", "/users/alice@example.com/keys/ragflow-abc", None),
    ("GET", "/services", None),
    ("GET", "/services/0", None),
    ("PUT", "/variables", {"var_name": "register_enabled", "var_value": "false"}),
    ("GET", "/variables", None),
    ("GET", "/variables/register_enabled", None),
    ("GET", "/configs", None),
    ("GET", "/environments", None),
    ("GET", "/version", None),
    ("GET", "/audit", None),
]


def test_every_admin_route_is_listed_here(client: TestClient) -> None:
    listed = {(method, path.replace("alice@example.com", "{email}")) for method, path, _ in ROUTES}
    listed = {
        (
            m,
            p.replace("/0", "/{service_id}")
            .replace("ragflow-abc", "{key}")
            .replace("/variables/register_enabled", "/variables/{name}"),
        )
        for m, p in listed
    }
    paths = client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path[len(ADMIN) :])
        for path, operations in paths.items()
        if path.startswith(ADMIN)
        for method in operations
    }
    unauthenticated = {("GET", "/ping"), ("POST", "/login"), ("GET", "/auth")}
    assert routes - unauthenticated == listed


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_normal_users_session_and_api_key_are_refused(
    root: Root, alice: Account, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for headers in (alice.web_headers, alice.api_headers):
        response = alice.client.request(method, ADMIN + path, json=body, headers=headers)
        assert response.status_code == 403
        assert (
            response.json()
            == {
                "code": 403,
                "message": "The admin API is for administrators only.",
            }
            or response.json()["message"] == "The admin API is for administrators only."
        )
    anonymous = alice.client.request(method, ADMIN + path, json=body)
    assert anonymous.status_code == 401
    # nothing happened to alice
    assert root.data("GET", "/users/alice@example.com")["is_active"] is True


def test_no_default_administrator(client: TestClient, alice: Account) -> None:
    with client.app.state.runtime.read() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count(User.id)).where(User.is_superuser)) == 0
    refused = client.post(f"{ADMIN}/login", json={"email": "admin@ragflow.io", "password": "admin"})
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("No administrator exists yet")
    listing = client.get(f"{ADMIN}/users", headers=alice.web_headers)
    assert listing.status_code == 403
    assert listing.json()["message"].startswith("No administrator exists yet")


def test_the_first_administrator_comes_from_settings(tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password"
    password_file.write_text("from-a-file\n")
    settings = Settings(
        home=tmp_path / "home",
        workers=0,
        admin_email="boss@example.com",
        admin_password_file=password_file,
    )
    with TestClient(create_app(settings)) as client:
        login = client.post(
            f"{ADMIN}/login", json={"email": "boss@example.com", "password": "from-a-file"}
        )
        assert login.json()["code"] == 0
        assert login.json()["data"]["role"] == "admin"
    # a second start finds the administrator and changes nothing
    password_file.write_text("another\n")
    with TestClient(create_app(settings)) as client:
        again = client.post(
            f"{ADMIN}/login", json={"email": "boss@example.com", "password": "from-a-file"}
        )
        assert again.json()["code"] == 0


def test_admin_email_without_a_password_file_is_refused() -> None:
    with pytest.raises(ValueError, match="admin_password_file"):
        Settings(admin_email="boss@example.com")


def test_login(client: TestClient, runtime: Runtime, alice: Account) -> None:
    make_superuser(runtime)
    response = client.post(f"{ADMIN}/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
    body = response.json()
    assert body["code"] == 0 and body["data"]["email"] == ROOT_EMAIL
    assert body["data"]["role"] == "admin" and "password_hash" not in body["data"]
    token = response.headers["Authorization"]
    # the same session token works on the user API
    assert client.get("/v1/user/info", headers={"Authorization": token}).json()["code"] == 0
    wrong = client.post(f"{ADMIN}/login", json={"email": ROOT_EMAIL, "password": "nope"}).json()
    assert wrong["code"] == 109 and wrong["message"] == "Email and password do not match!"
    unknown = client.post(f"{ADMIN}/login", json={"email": "no@example.com", "password": "x"})
    assert unknown.json()["message"] == "Email and password do not match!"
    normal = client.post(f"{ADMIN}/login", json={"email": alice.email, "password": alice.password})
    assert normal.status_code == 403
    # a refused login did not end alice's session
    assert alice.get("/v1/user/info").json()["code"] == 0
    missing = client.post(f"{ADMIN}/login", json={"email": ROOT_EMAIL}).json()
    assert missing["code"] == 101 and "password" in missing["message"]


def test_login_with_a_disabled_administrator(client: TestClient, runtime: Runtime) -> None:
    make_superuser(runtime)
    make_superuser(runtime, "other@example.com", "other-pw")
    with runtime.transaction() as session:
        users.set_active(session, "other@example.com", active=False)
    refused = client.post(
        f"{ADMIN}/login", json={"email": "other@example.com", "password": "other-pw"}
    ).json()
    assert refused["code"] == 403 and "disabled" in refused["message"]


def test_an_administrators_api_key_works(root: Root, client: TestClient) -> None:
    key = root.data("POST", f"/users/{ROOT_EMAIL}/keys")["token"]
    response = client.get(f"{ADMIN}/version", headers={"Authorization": f"Bearer {key}"})
    assert response.json()["data"]["version"]


def test_logout_ends_the_session(root: Root, client: TestClient) -> None:
    assert root.data("GET", "/logout") is True
    after = client.get(f"{ADMIN}/users", headers={"Authorization": root.token})
    assert after.status_code == 401


def test_auth_with_basic_credentials(root: Root, client: TestClient, alice: Account) -> None:
    def basic(email: str, password: str) -> dict[str, str]:
        encoded = base64.b64encode(f"{email}:{password}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}

    ok = client.get(f"{ADMIN}/auth", headers=basic(ROOT_EMAIL, ROOT_PASSWORD)).json()
    assert ok["code"] == 0 and ok["data"]["email"] == ROOT_EMAIL
    # checking does not start a session: the admin's token still works
    assert root.get("/users")["code"] == 0
    assert client.get(f"{ADMIN}/auth", headers=basic(ROOT_EMAIL, "bad")).status_code == 401
    assert (
        client.get(f"{ADMIN}/auth", headers=basic(alice.email, alice.password)).status_code == 403
    )
    assert client.get(f"{ADMIN}/auth", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert root.get("/auth")["data"]["email"] == ROOT_EMAIL
    assert client.get(f"{ADMIN}/ping").text == "PONG"


def test_users(root: Root, alice: Account, client: TestClient) -> None:
    listed = root.data("GET", "/users")
    assert [user["email"] for user in listed] == [ROOT_EMAIL, alice.email]
    assert listed[1]["role"] == "user" and listed[1]["api_key_count"] == 1
    created = root.data(
        "POST", "/users", json={"username": "carol@example.com", "password": "c-pw"}
    )
    assert created["role"] == "user" and created["nickname"] == "carol"
    login = client.post("/v1/user/login", json={"email": "carol@example.com", "password": "c-pw"})
    assert login.json()["code"] == 0
    boss = root.data(
        "POST", "/users", json={"username": "boss@example.com", "password": "b", "role": "admin"}
    )
    assert boss["is_superuser"] is True
    shown = root.data("GET", "/users/CAROL@example.com")
    assert shown["email"] == "carol@example.com" and shown["dataset_count"] == 0


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"username": "alice@example.com", "password": "x"}, 103, "has already registered"),
        ({"username": "not-an-email", "password": "x"}, 103, "Invalid email address"),
        ({"username": "d@example.com"}, 101, "required argument are missing: password"),
        ({"username": "d@example.com", "password": ""}, 102, "Password can't be empty"),
        ({"username": "d@example.com", "password": "x", "role": "god"}, 101, "role"),
        ({"username": 5, "password": "x"}, 101, "username"),
    ],
)
def test_create_user_validation(
    root: Root, alice: Account, body: dict[str, Any], code: int, message: str
) -> None:
    result = root.call("POST", "/users", json=body)
    assert result["code"] == code and message in result["message"], result


def test_missing_users_are_reported(root: Root) -> None:
    for method, path, body in ROUTES:
        if "alice@example.com" not in path:
            continue
        result = root.call(method, path.replace("alice", "nobody"), json=body)
        assert result["code"] == 102, (path, result)
        assert result["message"] == "User 'nobody@example.com' not found!", (path, result)


def test_set_password(root: Root, alice: Account, client: TestClient) -> None:
    assert root.data("PUT", f"/users/{alice.email}/password", json={"new_password": "n3w"})
    # the old session is over; the old password fails, the new one works; API keys keep working
    assert client.get("/v1/user/info", headers=alice.web_headers).status_code == 401
    old = client.post("/v1/user/login", json={"email": alice.email, "password": alice.password})
    assert old.json()["code"] == 109
    new = client.post("/v1/user/login", json={"email": alice.email, "password": "n3w"})
    assert new.json()["code"] == 0
    assert client.get("/api/v1/datasets", headers=alice.api_headers).json()["code"] == 0
    empty = root.call("PUT", f"/users/{alice.email}/password", json={"new_password": ""})
    assert empty["code"] == 101
    assert root.call("PUT", f"/users/{alice.email}/password", json={})["code"] == 101


def test_activate(root: Root, alice: Account, client: TestClient) -> None:
    assert root.data("PUT", f"/users/{alice.email}/activate", json={"activate_status": "off"})
    assert client.get("/api/v1/datasets", headers=alice.api_headers).json()["code"] == 109
    login = client.post("/v1/user/login", json={"email": alice.email, "password": alice.password})
    assert login.json()["code"] == 403
    assert root.data("GET", f"/users/{alice.email}")["is_active"] is False
    assert root.data("PUT", f"/users/{alice.email}/activate", json={"activate_status": "on"})
    assert client.get("/api/v1/datasets", headers=alice.api_headers).json()["code"] == 0
    bad = root.call("PUT", f"/users/{alice.email}/activate", json={"activate_status": "maybe"})
    assert bad["code"] == 101
    yourself = root.call("PUT", f"/users/{ROOT_EMAIL}/activate", json={"activate_status": "off"})
    assert yourself["code"] == 103 and "own account" in yourself["message"]


def test_grant_and_revoke_admin(root: Root, alice: Account, client: TestClient) -> None:
    assert root.data("PUT", f"/users/{alice.email}/admin") is True
    assert client.get(f"{ADMIN}/users", headers=alice.web_headers).json()["code"] == 0
    permissions = root.data("GET", f"/users/{alice.email}/permission")
    assert permissions["role"] == "admin" and "admin:users" in permissions["permissions"]
    assert permissions["tenants"] == [{"tenant_id": alice.id, "role": "owner"}]
    assert root.data("DELETE", f"/users/{alice.email}/admin") is True
    assert client.get(f"{ADMIN}/users", headers=alice.web_headers).status_code == 403
    assert root.data("PUT", f"/users/{alice.email}/role", json={"role_name": "admin"}) is True
    assert root.data("GET", f"/users/{alice.email}")["role"] == "admin"
    assert root.data("PUT", f"/users/{alice.email}/role", json={"role_name": "user"}) is True
    assert root.data("GET", f"/users/{alice.email}")["role"] == "user"
    assert root.call("PUT", f"/users/{alice.email}/role", json={"role_name": "x"})["code"] == 101
    yourself = root.call("DELETE", f"/users/{ROOT_EMAIL}/admin")
    assert yourself["code"] == 103
    roles = root.data("GET", "/roles")
    assert [role["role_name"] for role in roles] == ["admin", "user"]


def test_datasets_and_agents_of_a_user(root: Root, alice: Account, bob: Account) -> None:
    dataset_id = new_dataset(alice, name="birds")
    new_dataset(bob, name="bobs")
    listed = root.data("GET", f"/users/{alice.email}/datasets")
    assert [(d["id"], d["name"], d["document_count"]) for d in listed] == [(dataset_id, "birds", 0)]
    assert root.data("GET", f"/users/{alice.email}/agents") == []
    made = alice.client.post(
        "/api/v1/agents", json={"title": "echo", "dsl": ECHO_DSL}, headers=alice.api_headers
    ).json()
    assert made["code"] == 0, made
    bob.client.post(
        "/api/v1/agents", json={"title": "bobs", "dsl": ECHO_DSL}, headers=bob.api_headers
    )
    assert [a["title"] for a in root.data("GET", f"/users/{alice.email}/agents")] == ["echo"]


def test_api_keys_of_a_user(root: Root, alice: Account, client: TestClient) -> None:
    made = root.data("POST", f"/users/{alice.email}/keys")
    assert made["token"].startswith("ragflow-") and made["tenant_id"] == alice.id
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/api/v1/datasets", headers=headers).json()["code"] == 0
    listed = root.data("GET", f"/users/{alice.email}/keys")
    assert len(listed) == 2 and made["token"].startswith(listed[1]["token"])
    assert root.data("DELETE", f"/users/{alice.email}/keys/{listed[1]['token']}") is True
    assert client.get("/api/v1/datasets", headers=headers).json()["code"] == 109
    gone = root.call("DELETE", f"/users/{alice.email}/keys/{listed[1]['token']}")
    assert gone == {"code": 102, "message": "Token not found!", "data": None}
    # another user's key is not found through this user
    bobs = root.data("POST", "/users", json={"username": "bob2@example.com", "password": "p"})
    key = root.data("POST", "/users/bob2@example.com/keys")["token"]
    assert bobs["api_key_count"] == 0
    assert root.call("DELETE", f"/users/{alice.email}/keys/{key}")["code"] == 102


def _rows(runtime: Runtime, user_id: str) -> dict[str, int]:
    with runtime.read() as session:
        return {
            "user": session.scalar(select(func.count()).where(User.id == user_id)) or 0,
            "tenant": session.scalar(select(func.count()).where(Tenant.id == user_id)) or 0,
            "user_tenant": session.scalar(
                select(func.count()).where(
                    (UserTenant.user_id == user_id) | (UserTenant.tenant_id == user_id)
                )
            )
            or 0,
            "api_token": session.scalar(select(func.count()).where(ApiToken.tenant_id == user_id))
            or 0,
            "dataset": session.scalar(select(func.count()).where(Dataset.tenant_id == user_id))
            or 0,
            "document": session.scalar(select(func.count()).where(Document.tenant_id == user_id))
            or 0,
            "ingest_task": session.scalar(select(func.count(IngestTask.id))) or 0,
            "store_sync": session.scalar(select(func.count(StoreSync.id))) or 0,
            "chat": session.scalar(select(func.count()).where(Chat.tenant_id == user_id)) or 0,
            "chat_session": session.scalar(select(func.count(ChatSession.id))) or 0,
            "tenant_model": session.scalar(
                select(func.count()).where(TenantModel.tenant_id == user_id)
            )
            or 0,
            "user_canvas": session.scalar(select(func.count()).where(Agent.tenant_id == user_id))
            or 0,
            "user_canvas_version": session.scalar(select(func.count(AgentVersion.id))) or 0,
            "agent_session": session.scalar(
                select(func.count()).where(AgentSession.tenant_id == user_id)
            )
            or 0,
        }


def _stored_chunks(home: Path, tenant_id: str) -> int:
    with sqlite3.connect(home / "chunks.db") as connection:
        count: int = connection.execute(
            "SELECT count(*) FROM chunk WHERE tenant_id = ?", (tenant_id,)
        ).fetchone()[0]
    connection.close()
    return count


def test_deleting_a_user_removes_their_data_from_every_store(
    root: Root, alice: Account, bob: Account, runtime: Runtime
) -> None:
    dataset_id = new_dataset(alice, name="birds")
    document_id = upload(alice, dataset_id, "owls.md", b"# Owls\n\nOwls hunt at night.")
    assert parse(alice, dataset_id, [document_id]) == {"code": 0}
    chat = alice.client.post(
        "/api/v1/chats",
        json={"name": "helper", "dataset_ids": [dataset_id]},
        headers=alice.api_headers,
    ).json()
    assert chat["code"] == 0, chat
    session = alice.client.post(
        f"/api/v1/chats/{chat['data']['id']}/sessions", json={}, headers=alice.api_headers
    ).json()
    assert session["code"] == 0, session
    agent = alice.client.post(
        "/api/v1/agents", json={"title": "echo", "dsl": ECHO_DSL}, headers=alice.api_headers
    ).json()
    assert agent["code"] == 0, agent
    agent_id = root.data("GET", f"/users/{alice.email}/agents")[0]["id"]
    agent_session = alice.client.post(
        f"/api/v1/agents/{agent_id}/sessions", json={}, headers=alice.api_headers
    ).json()
    assert agent_session["code"] == 0, agent_session
    bobs_dataset = new_dataset(bob, name="bobs")
    bobs_document = upload(bob, bobs_dataset, "b.md", b"# Bob\n\nBob keeps bees.")
    assert parse(bob, bobs_dataset, [bobs_document]) == {"code": 0}

    home = runtime.settings.home
    before = _rows(runtime, alice.id)
    assert before["dataset"] == 1 and before["document"] == 1 and before["chat"] == 1
    assert before["chat_session"] == 1 and before["api_token"] == 1
    assert before["user_canvas"] == 1 and before["user_canvas_version"] == 1
    assert before["agent_session"] == 1
    assert _stored_chunks(home, alice.id) > 0
    blobs = runtime.settings.resolved_blob_dir
    assert (blobs / alice.id).is_dir()

    assert root.data("DELETE", f"/users/{alice.email}") is True

    after = _rows(runtime, alice.id)
    assert {name: after[name] for name in after if name not in ("ingest_task",)} == {
        "user": 0,
        "tenant": 0,
        "user_tenant": 0,
        "api_token": 0,
        "dataset": 0,
        "document": 0,
        "store_sync": 0,
        "chat": 0,
        "chat_session": 0,
        "tenant_model": 0,
        "user_canvas": 0,
        "user_canvas_version": 0,
        "agent_session": 0,
    }
    with runtime.read() as db:
        tasks = db.scalars(select(IngestTask.document_id)).all()
    assert document_id not in tasks
    assert _stored_chunks(home, alice.id) == 0
    assert not (blobs / alice.id).exists()
    assert not runtime.blobs.exists(f"{alice.id}/{dataset_id}/{document_id}")
    # bob is untouched
    assert _stored_chunks(home, bob.id) > 0 and (blobs / bob.id).is_dir()
    assert root.get(f"/users/{alice.email}")["code"] == 102
    assert alice.client.get("/api/v1/datasets", headers=alice.api_headers).json()["code"] == 109
    yourself = root.call("DELETE", f"/users/{ROOT_EMAIL}")
    assert yourself["code"] == 103


def test_services(root: Root) -> None:
    services = root.data("GET", "/services")
    types = [service["service_type"] for service in services]
    assert types[:6] == [
        "api_server",
        "task_executor",
        "database",
        "blob_store",
        "chunk_store",
        "queue",
    ]
    assert "model_provider" in types
    assert [service["id"] for service in services] == list(range(len(services)))
    for service in services[:6]:
        assert service["status"] in ("alive", "idle", "busy"), service
        assert service["latency_ms"] is not None and "detail" not in service
    database = root.data("GET", "/services/2")
    assert database["backend"] == "sqlite" and database["version"]
    assert database["detail"]["url"].startswith("sqlite:///")
    workers = root.data("GET", "/services/1")
    assert workers["detail"]["queue_depth"] == 0 and workers["detail"]["running_tasks"] == 0
    assert root.call("GET", "/services/99")["code"] == 102
    assert root.call("GET", "/services/x")["code"] == 101


def test_a_model_provider_with_a_base_url_is_probed(
    root: Root, runtime: Runtime, alice: Account
) -> None:
    with runtime.transaction() as session:
        session.add(
            TenantModel(
                tenant_id=alice.id,
                factory="OpenAI-API-Compatible",
                name="nothing-listens",
                model_type="chat",
                api_base="http://127.0.0.1:9/v1",
            )
        )
    providers = [s for s in root.data("GET", "/services") if s["service_type"] == "model_provider"]
    down = [p for p in providers if p["name"] == "OpenAI-API-Compatible"]
    assert len(down) == 1 and down[0]["status"] == "down" and down[0]["port"] == 9
    shown = root.data("GET", f"/services/{down[0]['id']}")
    assert shown["detail"]["models"] == ["nothing-listens"]


def test_variables_apply_without_a_restart(root: Root, client: TestClient) -> None:
    listed = root.data("GET", "/variables")
    assert {v["name"] for v in listed} == {
        "register_enabled",
        "new_tenant_chat_model",
        "new_tenant_embedding_model",
    }
    assert all(v["source"] == "settings" for v in listed)
    set_ = root.data("PUT", "/variables", json={"var_name": "register_enabled", "var_value": "off"})
    assert set_["value"] is False and set_["source"] == "database"
    assert set_["updated_by"] == ROOT_EMAIL
    refused = client.post(
        "/v1/user/register", json={"nickname": "z", "email": "z@example.com", "password": "p"}
    ).json()
    assert refused["code"] == 103 and refused["message"] == "User registration is disabled!"
    assert client.get("/v1/system/config").json()["data"]["registerEnabled"] is False
    root.data("PUT", "/variables", json={"var_name": "register_enabled", "var_value": True})
    root.data(
        "PUT",
        "/variables",
        json={"var_name": "new_tenant_chat_model", "var_value": "gpt-4o@OpenAI"},
    )
    carol = Account(client, "carol@example.com")
    assert carol.get("/v1/user/tenant_info").json()["data"]["llm_id"] == "gpt-4o@OpenAI"
    one = root.data("GET", "/variables", params={"var_name": "new_tenant_chat_model"})
    assert [v["value"] for v in one] == ["gpt-4o@OpenAI"]
    assert root.data("GET", "/variables/register_enabled")["value"] is True


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"var_name": "nope", "var_value": "1"}, 102),
        ({"var_name": "register_enabled", "var_value": "perhaps"}, 101),
        ({"var_name": "new_tenant_embedding_model", "var_value": " "}, 101),
        ({"var_name": "new_tenant_chat_model", "var_value": True}, 101),
        ({"var_name": "register_enabled"}, 101),
    ],
)
def test_variable_validation(root: Root, body: dict[str, Any], code: int) -> None:
    assert root.call("PUT", "/variables", json=body)["code"] == code
    assert root.get("/variables/nope")["code"] == 102


@pytest.fixture
def redis_user() -> Iterator[str]:
    """A user with the password ``hunter2`` on the local Redis server (the one CI starts): a
    configured queue must answer at start-up."""
    import redis

    name = f"ragserve-test-{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        admin.acl_setuser(name, enabled=True, passwords=["+hunter2"], commands=["+ping"])
        yield name
    finally:
        admin.acl_deluser(name)
        admin.close()


def test_configs_hide_secrets(tmp_path: Path, redis_user: str) -> None:
    settings = Settings(
        home=tmp_path / "home",
        workers=0,
        llm_api_key="sk-very-secret",  # type: ignore[arg-type]
        queue_url=f"redis://{redis_user}:hunter2@127.0.0.1:6379/0",
    )
    app = create_app(settings)
    make_superuser(app.state.runtime)
    with TestClient(app) as client:
        root = Root(client)
        configs = {entry["name"]: entry["value"] for entry in root.data("GET", "/configs")}
        assert configs["llm_api_key"] == "********"
        assert configs["queue_url"] == f"redis://{redis_user}:********@127.0.0.1:6379/0"
        assert configs["port"] == 9380 and configs["home"] == str(tmp_path / "home")
        assert "hunter2" not in str(root.get("/environments"))


def test_environments_and_version(root: Root, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGSERVE_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("RAGSERVE_WORKERS", "3")
    environments = {e["name"]: e["value"] for e in root.data("GET", "/environments")}
    assert environments["db_type"] == "sqlite" and environments["storage_impl"] == "local"
    assert environments["RAGSERVE_LLM_API_KEY"] == "********"
    assert environments["RAGSERVE_WORKERS"] == "3"
    from ragserve import __version__

    assert root.data("GET", "/version") == {"version": __version__}


def test_the_audit_log(root: Root, alice: Account, client: TestClient) -> None:
    root.data("POST", "/users", json={"username": "carol@example.com", "password": "c"})
    root.call("DELETE", "/users/nobody@example.com")
    client.get(f"{ADMIN}/users", headers=alice.web_headers)
    client.post(f"{ADMIN}/login", json={"email": ROOT_EMAIL, "password": "wrong"})
    page = root.data("GET", "/audit")
    entries = [(e["actor_email"], e["action"], e["target"], e["outcome"]) for e in page["entries"]]
    assert entries[:5] == [
        (ROOT_EMAIL, "login", "", "refused"),
        (alice.email, "auth", "", "refused"),
        (ROOT_EMAIL, "user.delete", "nobody@example.com", "failed"),
        (ROOT_EMAIL, "user.create", "carol@example.com", "ok"),
        (ROOT_EMAIL, "login", "", "ok"),
    ]
    assert page["entries"][2]["detail"] == "User 'nobody@example.com' not found!"
    assert page["entries"][3]["client_address"] == "testclient"
    assert page["entries"][0]["create_date"].endswith("GMT")
    only = root.data("GET", "/audit", params={"action": "user.create"})
    assert only["total"] == 1
    by_alice = root.data("GET", "/audit", params={"actor": "ALICE@example.com"})
    assert by_alice["total"] == 1
    paged = root.data("GET", "/audit", params={"page": 2, "page_size": 2})
    # three listings since, each logged once it answered
    assert len(paged["entries"]) == 2 and paged["total"] == page["total"] + 3
    assert root.call("GET", "/audit", params={"page": 0})["code"] == 101
    latest = root.data("GET", "/audit")["entries"][0]
    assert latest["action"] == "audit.list"


def test_admin_port_settings_keep_the_admin_api_off_the_main_port(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", workers=0, admin_on_main_port=False)
    app = create_app(settings)
    make_superuser(app.state.runtime)
    with TestClient(app) as client:
        response = client.post(
            f"{ADMIN}/login", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
        )
        assert response.status_code == 404
        assert client.get("/v1/system/ping").text == "pong"


def test_a_slow_provider_probe_uses_a_timeout() -> None:
    from ragserve.services import admin_system

    assert admin_system.PROVIDER_TIMEOUT_S <= 5
    with pytest.raises(httpx.TransportError):
        admin_system._provider_probe("http://127.0.0.1:9/v1")()
