"""Password reset by e-mail, against a local SMTP server (aiosmtpd): captcha, code by mail,
verification, new password; codes single-use and expiring; unknown addresses not revealed."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from conftest import Account
from helpers.server import free_port
from ragserve.app import create_app
from ragserve.db.models import AuthChallenge
from ragserve.runtime import Runtime
from ragserve.services.challenges import ChallengeKind, lookup_of
from ragserve.settings import Settings


class Inbox:
    """aiosmtpd's handler: keeps every message delivered."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def code_for(self, email: str) -> str:
        message = [m for m in self.messages if m["To"] == email][-1]
        found = re.search(r"code is: ([A-Z]+)", message.get_payload(decode=True).decode())
        assert found, message
        return found.group(1)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def mail_settings(home: Path, port: int, **more: Any) -> Settings:
    return Settings(
        home=home,
        workers=0,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="noreply@ragserve.test",
        **more,
    )


@pytest.fixture
def settings(tmp_path: Path, inbox: tuple[Inbox, int]) -> Settings:
    return mail_settings(tmp_path / "home", inbox[1])


@pytest.fixture
def mails(inbox: tuple[Inbox, int]) -> Inbox:
    return inbox[0]


def captcha_answer(runtime: Runtime, email: str) -> str:
    """What the person reads in the picture: the test reads it where the server keeps it."""
    with runtime.read() as session:
        row = session.scalars(
            select(AuthChallenge).where(
                AuthChallenge.kind == ChallengeKind.CAPTCHA,
                AuthChallenge.lookup == lookup_of(email.lower()),
            )
        ).one()
        return str(row.payload["answer"])


def request_code(client: TestClient, runtime: Runtime, email: str) -> dict[str, Any]:
    picture = client.get("/v1/user/forget/captcha", params={"email": email})
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    answer = captcha_answer(runtime, email).lower()  # case is ignored
    body: dict[str, Any] = client.post(
        "/v1/user/forget/otp", json={"email": email, "captcha": answer}
    ).json()
    return body


def verify(client: TestClient, email: str, code: str) -> dict[str, Any]:
    body: dict[str, Any] = client.post(
        "/v1/user/forget/verify-otp", json={"email": email, "otp": code}
    ).json()
    return body


def reset(client: TestClient, email: str, password: str, confirm: str | None = None) -> Any:
    return client.post(
        "/v1/user/forget/reset-password",
        json={
            "email": email,
            "new_password": password,
            "confirm_new_password": password if confirm is None else confirm,
        },
    )


def test_reset_by_mail_end_to_end(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    picture = client.get("/v1/user/forget/captcha", params={"email": alice.email})
    assert Image.open(io.BytesIO(picture.content)).format == "JPEG"
    assert picture.headers["cache-control"] == "no-store"
    answer = captcha_answer(runtime, alice.email)
    sent = client.post(
        "/v1/user/forget/otp", json={"email": alice.email, "captcha": answer.lower()}
    ).json()
    assert sent == {"code": 0, "message": "verification passed, email sent", "data": True}
    assert len(mails.messages) == 1
    mail = mails.messages[0]
    assert mail["From"] == "noreply@ragserve.test" and mail["To"] == alice.email
    assert mail["Subject"] == "Your password reset code"
    code = mails.code_for(alice.email)
    assert len(code) == 8
    assert verify(client, alice.email, code.lower()) == {
        "code": 0,
        "message": "otp verified",
        "data": True,
    }
    response = reset(client, alice.email, "brand-new")
    body = response.json()
    assert body["code"] == 0 and body["message"] == "Password reset successful. Logged in."
    assert body["data"]["email"] == alice.email
    new_session = response.headers["Authorization"]
    assert client.get("/v1/user/info", headers={"Authorization": new_session}).json()["code"] == 0
    assert alice.get("/v1/user/info").json()["code"] == 401  # the old session ended
    login = client.post("/v1/user/login", json={"email": alice.email, "password": "brand-new"})
    assert login.json()["code"] == 0
    old = client.post("/v1/user/login", json={"email": alice.email, "password": alice.password})
    assert old.json()["code"] == 109


def test_code_and_verification_are_single_use(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    assert request_code(client, runtime, alice.email)["code"] == 0
    code = mails.code_for(alice.email)
    assert verify(client, alice.email, code)["code"] == 0
    assert verify(client, alice.email, code) == {
        "code": 109,
        "message": "expired otp",
        "data": False,
    }
    assert reset(client, alice.email, "one").json()["code"] == 0
    second = reset(client, alice.email, "two").json()
    assert second == {"code": 109, "message": "email not verified", "data": False}


def test_codes_expire(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    settings = mail_settings(tmp_path / "home", inbox[1], reset_code_lifetime=1)
    with TestClient(create_app(settings)) as client:
        account = Account(client, "frank@example.com")
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert request_code(client, runtime, account.email)["code"] == 0
        code = inbox[0].code_for(account.email)
        time.sleep(1.2)
        assert verify(client, account.email, code)["message"] == "expired otp"


def test_verification_expires(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    settings = mail_settings(tmp_path / "home", inbox[1], reset_code_lifetime=1)
    with TestClient(create_app(settings)) as client:
        account = Account(client, "gina@example.com")
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        request_code(client, runtime, account.email)
        assert verify(client, account.email, inbox[0].code_for(account.email))["code"] == 0
        time.sleep(1.2)
        assert reset(client, account.email, "late").json()["message"] == "email not verified"


def test_wrong_captcha_is_refused_and_uses_the_captcha_up(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    client.get("/v1/user/forget/captcha", params={"email": alice.email})
    answer = captcha_answer(runtime, alice.email)
    wrong = client.post("/v1/user/forget/otp", json={"email": alice.email, "captcha": "nope1"})
    assert wrong.json() == {"code": 109, "message": "invalid or expired captcha", "data": False}
    late = client.post("/v1/user/forget/otp", json={"email": alice.email, "captcha": answer})
    assert late.json()["message"] == "invalid or expired captcha"
    no_captcha = client.post("/v1/user/forget/otp", json={"email": "x@example.com", "captcha": "A"})
    assert no_captcha.json()["message"] == "invalid or expired captcha"
    assert mails.messages == []


def test_unknown_address_is_not_revealed(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    known = request_code(client, runtime, alice.email)
    unknown = request_code(client, runtime, "nobody@example.com")
    assert (
        unknown == known == {"code": 0, "message": "verification passed, email sent", "data": True}
    )
    assert [m["To"] for m in mails.messages] == [alice.email]
    assert verify(client, "nobody@example.com", "ABCDEFGH") == verify(
        client, alice.email, "ABCDEFGH"
    )
    assert verify(client, "nobody@example.com", "ABCDEFGH")["message"] == "invalid otp"


def test_wrong_codes_kill_the_code(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    request_code(client, runtime, alice.email)
    code = mails.code_for(alice.email)
    messages = [verify(client, alice.email, "WRONGONE")["message"] for _ in range(5)]
    assert messages == ["invalid otp"] * 4 + ["too many attempts, request a new code"]
    assert verify(client, alice.email, code)["message"] == "expired otp"


def test_a_new_code_waits_a_minute(
    client: TestClient, runtime: Runtime, alice: Account, mails: Inbox
) -> None:
    assert request_code(client, runtime, alice.email)["code"] == 0
    again = request_code(client, runtime, alice.email)
    assert again["code"] == 103 and re.fullmatch(
        r"you still have to wait \d+ seconds", again["message"]
    )
    assert len(mails.messages) == 1


def test_reset_needs_this_browsers_verification(
    client: TestClient, runtime: Runtime, alice: Account, bob: Account, mails: Inbox
) -> None:
    request_code(client, runtime, alice.email)
    assert verify(client, alice.email, mails.code_for(alice.email))["code"] == 0
    # someone else who knows the address, in another browser
    with TestClient(client.app) as other:
        refused = reset(other, alice.email, "hijack").json()
    assert refused == {"code": 109, "message": "email not verified", "data": False}
    # the verification is for alice's address only
    assert reset(client, bob.email, "hijack").json()["message"] == "email not verified"
    assert reset(client, alice.email, "a", "b").json() == {
        "code": 101,
        "message": "passwords do not match",
        "data": None,
    }
    assert reset(client, alice.email, "mine").json()["code"] == 0


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/user/forget/otp", {"email": "a@example.com"}, "email and captcha required"),
        ("/v1/user/forget/otp", {"captcha": "X"}, "email and captcha required"),
        ("/v1/user/forget/verify-otp", {"email": "a@example.com"}, "email and otp are required"),
        (
            "/v1/user/forget/reset-password",
            {"email": "a@example.com"},
            "email and passwords are required",
        ),
    ],
)
def test_missing_fields(client: TestClient, path: str, body: dict[str, str], message: str) -> None:
    assert client.post(path, json=body).json() == {"code": 101, "message": message, "data": None}


def test_wrong_types(client: TestClient) -> None:
    body = client.post("/v1/user/forget/otp", json={"email": ["a"], "captcha": "x"}).json()
    assert body["code"] == 101 and body["message"] == "`email` must be a string."


def test_captcha_needs_an_address(client: TestClient) -> None:
    body = client.get("/v1/user/forget/captcha").json()
    assert body == {"code": 101, "message": "email is required", "data": None}


def test_smtp_failure_is_an_error_without_detail(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    settings = mail_settings(tmp_path / "home", 9)  # nothing listens on port 9
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        account = Account(client, "hank@example.com")
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        body = request_code(client, runtime, account.email)
    assert body["code"] == 500 and body["message"].startswith("failed to send email")


def test_reset_is_off_without_smtp(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "home", workers=0))) as client:
        body = client.get("/v1/user/forget/captcha", params={"email": "a@example.com"}).json()
        otp = client.post("/v1/user/forget/otp", json={"email": "a@b.com", "captcha": "X"}).json()
    expected = "Password reset by e-mail is not configured on this server."
    assert body == otp == {"code": 103, "message": expected, "data": None}
