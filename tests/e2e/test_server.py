"""A real ``ragserve serve`` process, driven over HTTP and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.processes import stop
from helpers.server import (
    ADMIN_EMAIL,
    RunningServer,
    free_port,
    ragserve,
    running_server,
    server_env,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("server") / "home") as running:
        yield running


def test_api_token_from_the_cli_works_over_http(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    info = httpx.get(server.base_url + "/v1/user/info", headers=headers).json()
    assert info["code"] == 0 and info["data"]["email"] == ADMIN_EMAIL


def test_web_flow_register_login_token_logout(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        register = client.post(
            "/v1/user/register",
            json={"nickname": "eve", "email": "eve@example.com", "password": "pw"},
        )
        assert register.json()["code"] == 0
        login = client.post("/v1/user/login", json={"email": "eve@example.com", "password": "pw"})
        session = {"Authorization": login.headers["Authorization"]}
        token = client.post("/v1/system/new_token", headers=session).json()["data"]["token"]
        listed = client.get("/v1/system/token_list", headers=session).json()["data"]
        assert [row["token"] for row in listed] == [token[:16]]
        assert client.get("/v1/user/logout", headers=session).json()["data"] is True
        assert client.get("/v1/user/info", headers=session).status_code == 401
        api = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/user/info", headers=api).json()["data"]["email"] == "eve@example.com"


def test_status_and_unknown_route(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    status = httpx.get(server.base_url + "/v1/system/status", headers=headers).json()["data"]
    assert {name: part["status"] for name, part in status.items()} == {
        "database": "green",
        "storage": "green",
        "doc_engine": "green",
        "queue": "green",
    }
    missing = httpx.get(server.base_url + "/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["code"] == 404


def test_malformed_requests_never_leak_internals(server: RunningServer) -> None:
    for content in (b"\x00\xff" * 100, b"{" * 10_000, b'{"email": {"$gt": ""}}'):
        response = httpx.post(
            server.base_url + "/v1/user/login",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code in (200, 401)
        body = response.json()
        assert body["code"] != 0
        assert "Traceback" not in response.text and "Error(" not in body["message"]


def test_cli_user_and_token_commands(server: RunningServer) -> None:
    env = server.env
    created = ragserve("user", "create", "--email", "cli@example.com", "--password", "pw", env=env)
    assert created.returncode == 0 and len(created.stdout.strip()) == 32
    listed = json.loads(ragserve("user", "list", "--json", env=env).stdout)
    assert {"admin@example.com", "cli@example.com"} <= {row["email"] for row in listed}
    token = ragserve("token", "create", "--email", "cli@example.com", env=env).stdout.strip()
    assert token.startswith("ragflow-") and len(token) == 40 and "\n" not in token
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(server.base_url + "/v1/user/info", headers=headers).json()["code"] == 0
    tokens = json.loads(
        ragserve("token", "list", "--email", "cli@example.com", "--json", env=env).stdout
    )
    assert [row["token"] for row in tokens] == [token[:16]]
    assert ragserve("token", "revoke", token, env=env).returncode == 0
    assert httpx.get(server.base_url + "/v1/user/info", headers=headers).status_code == 401
    again = ragserve("token", "revoke", token, env=env)
    assert again.returncode == 1 and "Token not found!" in again.stderr


def test_cli_errors_are_clear(server: RunningServer) -> None:
    duplicate = ragserve(
        "user", "create", "--email", ADMIN_EMAIL, "--password", "x", env=server.env
    )
    assert duplicate.returncode == 1
    assert f"Email: {ADMIN_EMAIL} has already registered!" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    unknown = ragserve("token", "create", "--email", "nobody@example.com", env=server.env)
    assert unknown.returncode == 1 and "is not registered" in unknown.stderr


def test_cli_user_disable_and_delete(server: RunningServer) -> None:
    env = server.env
    ragserve("user", "create", "--email", "tmp@example.com", "--password", "pw", env=env)
    token = ragserve("token", "create", "--email", "tmp@example.com", env=env).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert ragserve("user", "disable", "--email", "tmp@example.com", env=env).returncode == 0
    assert httpx.get(server.base_url + "/v1/user/info", headers=headers).status_code == 401
    assert ragserve("user", "enable", "--email", "tmp@example.com", env=env).returncode == 0
    assert httpx.get(server.base_url + "/v1/user/info", headers=headers).status_code == 200
    assert ragserve("user", "delete", "--email", "tmp@example.com", env=env).returncode == 0
    assert httpx.get(server.base_url + "/v1/user/info", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["user"],
        ["user", "create"],
        ["user", "list"],
        ["user", "delete"],
        ["user", "disable"],
        ["user", "enable"],
        ["token"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["version"],
        ["worker"],
        ["migrate-store"],
    ],
)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    done = ragserve(*command, "--help", env=server_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Usage: ragserve" in done.stdout


def test_version_command(tmp_path: Path) -> None:
    from ragserve import __version__

    assert ragserve("version", env=server_env(tmp_path)).stdout.strip() == __version__


def test_bad_config_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('port = "high"\n')
    done = ragserve("--config", str(config), "user", "list", env=server_env(tmp_path))
    assert done.returncode == 2
    assert "Invalid settings" in done.stderr and "Traceback" not in done.stderr


def test_serve_flags_and_startup_time(tmp_path: Path) -> None:
    """``serve --home --port --host`` on the embedded default; ready well within 3 s."""
    home = tmp_path / "flags-home"
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ragserve",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        env=server_env(tmp_path / "unused"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", "", home, process)
    try:
        wait_until_healthy(server)
        elapsed = time.monotonic() - started
        assert (home / "ragserve.db").exists()
        assert elapsed < 10, elapsed  # generous bound for a loaded CI machine; target is < 3 s
    finally:
        stop(process)
