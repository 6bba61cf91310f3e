from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conftest import Account


def register(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/v1/user/register", json=body)
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


def test_register_creates_user_and_logs_in(client: TestClient) -> None:
    response = client.post(
        "/v1/user/register",
        json={"nickname": "carol", "email": "carol@example.com", "password": "pw"},
    )
    body = response.json()
    assert body["code"] == 0
    assert body["message"] == "carol, welcome aboard!"
    user = body["data"]
    assert user["email"] == "carol@example.com"
    assert len(user["id"]) == 32 and int(user["id"], 16) >= 0
    assert "password" not in user and "password_hash" not in user and "access_token" not in user
    assert user["create_date"].endswith(" GMT")
    assert isinstance(user["create_time"], int)
    session_token = response.headers["Authorization"]
    assert "Authorization" in response.headers["Access-Control-Expose-Headers"]
    info = client.get("/v1/user/info", headers={"Authorization": session_token}).json()
    assert info["code"] == 0 and info["data"]["id"] == user["id"]


def test_register_makes_tenant_with_the_user_id(alice: Account) -> None:
    tenant = alice.get("/v1/user/tenant_info").json()
    assert tenant["code"] == 0
    assert tenant["data"]["tenant_id"] == alice.id
    assert tenant["data"]["role"] == "owner"
    assert tenant["data"]["name"] == "alice‘s Kingdom"
    assert tenant["data"]["embd_id"] == "all-MiniLM-L6-v2-q8@Builtin"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "x@example.com", "password": "p"}, "required argument are missing: nickname; "),
        ({}, "required argument are missing: nickname,email,password; "),
        (
            {"nickname": "n", "email": "not-an-email", "password": "p"},
            "Invalid email address: not-an-email!",
        ),
        ({"nickname": "n", "email": "a@b", "password": "p"}, "Invalid email address: a@b!"),
    ],
)
def test_register_validation(client: TestClient, body: dict[str, str], message: str) -> None:
    result = register(client, **body)
    assert result["message"] == message
    assert result["code"] in (101, 103)


def test_register_wrong_types_are_argument_errors(client: TestClient) -> None:
    result = register(client, nickname=["n"], email="x@example.com", password="p")
    assert result == {"code": 101, "message": "`nickname` must be a string.", "data": None}


def test_register_duplicate_email_ignores_case(client: TestClient, alice: Account) -> None:
    result = register(client, nickname="a2", email="ALICE@example.com", password="p")
    assert result == {
        "code": 103,
        "message": "Email: ALICE@example.com has already registered!",
        "data": None,
    }


def test_register_can_be_switched_off(tmp_path: object) -> None:
    from pathlib import Path

    from ragserve.app import create_app
    from ragserve.settings import Settings

    settings = Settings(home=Path(str(tmp_path)) / "h", register_enabled=False)
    with TestClient(create_app(settings)) as client:
        result = register(client, nickname="n", email="n@example.com", password="p")
        assert result == {"code": 103, "message": "User registration is disabled!", "data": None}
        assert client.get("/v1/system/config").json()["data"] == {"registerEnabled": False}


def test_login_rotates_the_session(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/v1/user/login", json={"email": alice.email, "password": alice.password}
    )
    body = response.json()
    assert body["code"] == 0 and body["message"] == "Welcome back!"
    new_token = response.headers["Authorization"]
    assert new_token != alice.session_token
    assert client.get("/v1/user/info", headers={"Authorization": new_token}).json()["code"] == 0
    old = client.get("/v1/user/info", headers=alice.web_headers)
    assert old.status_code == 401


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 109, "Unauthorized!"),
        (
            {"email": "nobody@example.com", "password": "x"},
            109,
            "Email: nobody@example.com is not registered!",
        ),
        (
            {"email": "alice@example.com", "password": "wrong"},
            109,
            "Email and password do not match!",
        ),
    ],
)
def test_login_failures(
    client: TestClient, alice: Account, body: dict[str, str], code: int, message: str
) -> None:
    response = client.post("/v1/user/login", json=body)
    result = response.json()
    assert (result["code"], result["message"]) == (code, message)
    assert "Authorization" not in response.headers


def test_login_without_a_body_is_unauthorized(client: TestClient) -> None:
    """RAGFlow checks ``request.json`` first: no body at all is 109 ``Unauthorized!``."""
    result = client.post("/v1/user/login").json()
    assert result == {"code": 109, "message": "Unauthorized!", "data": False}


def test_login_refuses_a_disabled_account(client: TestClient, alice: Account) -> None:
    from ragserve.services.users import set_active

    with client.app.state.runtime.transaction() as session:  # type: ignore[attr-defined]
        set_active(session, alice.email, active=False)
    result = client.post(
        "/v1/user/login", json={"email": alice.email, "password": alice.password}
    ).json()
    assert result["code"] == 403
    assert result["message"] == "This account has been disabled, please contact the administrator!"
    assert alice.get("/v1/user/info").status_code == 401


def test_logout_ends_the_session(alice: Account) -> None:
    assert alice.get("/v1/user/logout").json() == {"code": 0, "message": "success", "data": True}
    assert alice.get("/v1/user/info").json() == {
        "code": 401,
        "message": "Unauthorized",
        "data": None,
    }


def test_setting_changes_profile_and_password(client: TestClient, alice: Account) -> None:
    result = alice.post("/v1/user/setting", json={"nickname": "Ally", "language": "Chinese"}).json()
    assert result["code"] == 0
    assert alice.get("/v1/user/info").json()["data"]["nickname"] == "Ally"
    wrong = alice.post("/v1/user/setting", json={"password": "bad", "new_password": "n"}).json()
    assert (wrong["code"], wrong["message"]) == (109, "Password error!")
    ok = alice.post(
        "/v1/user/setting", json={"password": alice.password, "new_password": "new-pw"}
    ).json()
    assert ok["code"] == 0
    relogin = client.post("/v1/user/login", json={"email": alice.email, "password": "new-pw"})
    assert relogin.json()["code"] == 0


def test_setting_cannot_change_protected_fields(alice: Account) -> None:
    alice.post("/v1/user/setting", json={"email": "evil@example.com", "is_superuser": True})
    info = alice.get("/v1/user/info").json()["data"]
    assert info["email"] == alice.email and info["is_superuser"] is False


def test_set_tenant_info(alice: Account) -> None:
    body = {
        "tenant_id": alice.id,
        "llm_id": "gpt-4o-mini@OpenAI",
        "embd_id": "all-MiniLM-L6-v2-q8@Builtin",
        "asr_id": "",
        "img2txt_id": "",
        "rerank_id": "r@X",
    }
    assert alice.post("/v1/user/set_tenant_info", json=body).json()["code"] == 0
    tenant = alice.get("/v1/user/tenant_info").json()["data"]
    assert tenant["llm_id"] == "gpt-4o-mini@OpenAI" and tenant["rerank_id"] == "r@X"


def test_set_tenant_info_requires_keys(alice: Account) -> None:
    result = alice.post("/v1/user/set_tenant_info", json={"tenant_id": alice.id}).json()
    assert result["code"] == 101
    assert result["message"] == "required argument are missing: asr_id,embd_id,img2txt_id,llm_id; "


def test_set_tenant_info_of_another_tenant_is_not_found(alice: Account, bob: Account) -> None:
    body = {"tenant_id": bob.id, "llm_id": "x", "embd_id": "", "asr_id": "", "img2txt_id": ""}
    result = alice.post("/v1/user/set_tenant_info", json=body).json()
    unknown = alice.post("/v1/user/set_tenant_info", json={**body, "tenant_id": "f" * 32}).json()
    assert result == unknown == {"code": 102, "message": "Tenant not found!", "data": None}
    assert bob.get("/v1/user/tenant_info").json()["data"]["llm_id"] == ""


def test_rsa_encrypted_passwords(tmp_path: object) -> None:
    import base64
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from ragserve.app import create_app
    from ragserve.settings import Settings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = Path(str(tmp_path)) / "private.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"Welcome"),
        )
    )

    def encrypt(plain: str) -> str:
        inner = base64.b64encode(plain.encode())
        return base64.b64encode(key.public_key().encrypt(inner, padding.PKCS1v15())).decode()

    settings = Settings(
        home=Path(str(tmp_path)) / "h",
        rsa_private_key_file=key_file,
        rsa_private_key_passphrase="Welcome",  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings)) as client:
        body = {"nickname": "r", "email": "r@example.com", "password": encrypt("s3cret")}
        assert register(client, **body)["code"] == 0
        # The same password works encrypted (RAGFlow's web client) and in plain text.
        for password in (encrypt("s3cret"), "s3cret"):
            login = client.post(
                "/v1/user/login", json={"email": "r@example.com", "password": password}
            )
            assert login.json()["code"] == 0
        bad = client.post(
            "/v1/user/login", json={"email": "r@example.com", "password": encrypt("no")}
        )
        assert bad.json()["message"] == "Email and password do not match!"


def test_null_profile_fields_keep_their_values(alice: Account) -> None:
    """Found by the schema fuzzer: ``{"timezone": null}`` was a 500 (NOT NULL constraint)."""
    body = {"timezone": None, "nickname": None, "language": None, "color_schema": None}
    assert alice.post("/v1/user/setting", json=body).json()["code"] == 0
    profile = alice.get("/v1/user/info").json()["data"]
    assert profile["timezone"] == "UTC+8\tAsia/Shanghai"
    assert profile["nickname"] == "alice"
