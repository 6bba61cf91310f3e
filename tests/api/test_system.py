from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from conftest import Account
from ragserve import __version__


def test_version(alice: Account) -> None:
    assert alice.get("/v1/system/version").json() == {
        "code": 0,
        "message": "success",
        "data": __version__,
    }


def test_version_needs_login(client: TestClient) -> None:
    assert client.get("/v1/system/version").status_code == 401


def test_status_reports_each_component(alice: Account) -> None:
    data = alice.get("/v1/system/status").json()["data"]
    assert data["database"]["database"] == "sqlite"
    assert data["storage"]["storage"] == "local"
    assert data["doc_engine"]["type"] == "sqlite"
    assert data["queue"]["type"] == "sqlite"
    for component in data.values():
        assert component["status"] == "green"
        assert float(component["elapsed"]) >= 0


def test_healthz_is_raw_json(client: TestClient) -> None:
    response = client.get("/v1/system/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["db"] == "ok"
    assert "code" not in body


def test_healthz_fails_when_a_component_is_down(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.engine.dispose()
    database = runtime.settings.resolved_database_url.removeprefix("sqlite:///")
    from pathlib import Path

    Path(database).unlink()
    Path(database).mkdir()  # a directory where the database file was: every connect fails
    response = client.get("/v1/system/healthz")
    assert response.status_code == 500
    body = response.json()
    assert body["status"] == "nok" and body["db"] == "nok"
    assert body["_meta"]["db"]["error"]


def test_ping_and_config(client: TestClient) -> None:
    assert client.get("/v1/system/ping").text == "pong"
    assert client.get("/v1/system/config").json()["data"] == {"registerEnabled": True}


def test_healthz_names_a_failed_component_but_never_why(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    secret = "bucket s3://private-bucket refused: AccessDenied for key AKIA-SECRET"

    def broken_check() -> None:
        raise OSError(secret)

    monkeypatch.setattr(runtime.blobs, "check", broken_check)
    with caplog.at_level(logging.WARNING):
        response = client.get("/v1/system/healthz")
    assert response.status_code == 500
    body = response.json()
    assert body["storage"] == "nok" and body["status"] == "nok"
    assert body["db"] == body["doc_engine"] == body["queue"] == "ok"
    assert body["_meta"]["storage"]["error"] and body["_meta"]["db"]["error"] is None
    for leaked in ("private-bucket", "AccessDenied", "AKIA", "OSError"):
        assert leaked not in response.text
    assert secret in caplog.text  # the reason is for the operator's log
