"""``ragserve admin`` as an administrator runs it: subprocesses without a terminal, against a
real server whose first administrator comes from its settings and whose admin API also has a
port of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.server import ADMIN_EMAIL, RunningServer, free_port, running_server

pytestmark = pytest.mark.e2e

ROOT = "root@example.com"
ROOT_PASSWORD = "root-password-from-a-file"


class Admin:
    def __init__(self, server: RunningServer, admin_port: int) -> None:
        self.server = server
        self.admin_url = f"http://127.0.0.1:{admin_port}"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    home = tmp_path_factory.mktemp("admin") / "home"
    password_file = home.parent / "admin-password"
    password_file.write_text(ROOT_PASSWORD + "\n")
    admin_port = free_port()
    env = {
        "RAGSERVE_WORKERS": "0",
        "RAGSERVE_ADMIN_EMAIL": ROOT,
        "RAGSERVE_ADMIN_PASSWORD_FILE": str(password_file),
        "RAGSERVE_ADMIN_PORT": str(admin_port),
    }
    with running_server(home, env) as server:
        yield Admin(server, admin_port)


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "xdg"


def cli(
    config_home: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("RAGSERVE_")
    }
    environment.update({"XDG_CONFIG_HOME": str(config_home), "COLUMNS": "200"})
    done = subprocess.run(
        [sys.executable, "-m", "ragserve", "admin", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    assert "\x1b[" not in done.stdout + done.stderr, "control codes without a terminal"
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_admin_commands(admin: Admin, config_home: Path) -> None:
    missing = cli(config_home, "list", "users")
    assert missing.returncode == 2 and "No admin credentials" in missing.stderr
    wrong = cli(
        config_home, "login", "--url", admin.admin_url, "--email", ROOT, "--password", "nope"
    )
    assert wrong.returncode == 1 and "do not match" in wrong.stderr
    login = cli(
        config_home, "login", "--url", admin.admin_url, "--email", ROOT, "--password", ROOT_PASSWORD
    )
    assert login.returncode == 0, login.stderr
    saved = config_home / "ragserve" / "admin.json"
    assert saved.stat().st_mode & 0o777 == 0o600

    users = as_json(cli(config_home, "list", "users", "--json"))
    assert {user["email"]: user["role"] for user in users} == {ADMIN_EMAIL: "user", ROOT: "admin"}
    table = cli(config_home, "list", "users")
    assert table.returncode == 0 and "email" in table.stdout and ROOT in table.stdout

    created = as_json(cli(config_home, "--json", "create", "user", "carol@example.com", "c-pw"))
    assert created["role"] == "user"
    assert (
        as_json(cli(config_home, "show", "user", "carol@example.com", "--json"))["id"]
        == (created["id"])
    )
    key = as_json(cli(config_home, "generate", "key", "for", "user", "carol@example.com", "--json"))
    headers = {"Authorization": f"Bearer {key['token']}"}
    made = httpx.post(
        admin.server.base_url + "/api/v1/datasets", json={"name": "c"}, headers=headers
    )
    assert made.json()["code"] == 0
    datasets = as_json(cli(config_home, "list", "datasets", "of", "carol@example.com", "--json"))
    assert [d["name"] for d in datasets] == ["c"]
    assert as_json(cli(config_home, "list", "agents", "of", "carol@example.com", "--json")) == []
    keys = as_json(cli(config_home, "list", "keys", "of", "carol@example.com", "--json"))
    assert key["token"].startswith(keys[0]["token"])

    unconfirmed = cli(config_home, "drop", "key", keys[0]["token"], "of", "carol@example.com")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert (
        httpx.get(admin.server.base_url + "/api/v1/datasets", headers=headers).json()["code"] == 0
    )
    dropped = cli(config_home, "drop", "key", keys[0]["token"], "of", "carol@example.com", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert (
        httpx.get(admin.server.base_url + "/api/v1/datasets", headers=headers).json()["code"] == 109
    )

    assert (
        cli(config_home, "alter", "user", "password", "carol@example.com", "n3w", "-y").returncode
        == 0
    )
    relogin = httpx.post(
        admin.server.base_url + "/v1/user/login",
        json={"email": "carol@example.com", "password": "n3w"},
    )
    assert relogin.json()["code"] == 0
    assert (
        cli(config_home, "alter", "user", "active", "carol@example.com", "off", "--yes").returncode
        == 0
    )
    assert not as_json(cli(config_home, "show", "user", "carol@example.com", "--json"))["is_active"]
    assert cli(config_home, "alter", "user", "active", "carol@example.com", "on").returncode == 0
    assert cli(config_home, "grant", "admin", "carol@example.com").returncode == 0
    assert as_json(cli(config_home, "show", "user", "carol@example.com", "--json"))["is_superuser"]
    assert cli(config_home, "revoke", "admin", "carol@example.com", "--yes").returncode == 0

    services = as_json(cli(config_home, "list", "services", "--json"))
    assert {s["service_type"] for s in services} >= {
        "api_server",
        "task_executor",
        "database",
        "blob_store",
        "chunk_store",
        "queue",
    }
    database = as_json(cli(config_home, "show", "service", "2", "--json"))
    assert database["service_type"] == "database" and database["status"] == "alive"
    unsupported = cli(config_home, "list", "nonsense")
    assert unsupported.returncode == 2 and "Unknown statement" in unsupported.stderr

    assert cli(config_home, "set", "var", "register_enabled", "off").returncode == 0
    assert as_json(cli(config_home, "show", "var", "register_enabled", "--json"))["value"] is False
    register = httpx.post(
        admin.server.base_url + "/v1/user/register",
        json={"nickname": "z", "email": "z@example.com", "password": "p"},
    )
    assert register.json()["message"] == "User registration is disabled!"
    assert cli(config_home, "set", "var", "register_enabled", "on").returncode == 0
    assert {v["name"] for v in as_json(cli(config_home, "list", "vars", "--json"))} >= {
        "register_enabled"
    }
    configs = {
        c["name"]: c["value"] for c in as_json(cli(config_home, "list", "configs", "--json"))
    }
    assert configs["workers"] == 0
    envs = {e["name"]: e["value"] for e in as_json(cli(config_home, "list", "envs", "--json"))}
    assert envs["default_superuser_email"] == ROOT
    assert as_json(cli(config_home, "show", "version", "--json"))["version"]

    assert cli(config_home, "drop", "user", "carol@example.com", "--yes").returncode == 0
    gone = cli(config_home, "show", "user", "carol@example.com")
    assert gone.returncode == 1 and "not found" in gone.stderr
    audit = as_json(cli(config_home, "list", "audit", "--json"))
    actions = [entry["action"] for entry in audit["entries"]]
    assert {"user.delete", "key.delete", "variable.set", "login"} <= set(actions)
    assert all(entry["actor_email"] == ROOT for entry in audit["entries"][:5])

    assert cli(config_home, "logout").returncode == 0
    assert not saved.exists()


def test_credentials_on_the_command_line_and_the_main_port(admin: Admin, config_home: Path) -> None:
    server = admin.server
    by_password = cli(
        config_home,
        "--url",
        server.base_url,
        "--email",
        ROOT,
        "--password",
        ROOT_PASSWORD,
        "show",
        "version",
        "--json",
    )
    assert as_json(by_password)["version"]
    refused = cli(
        config_home, "--url", server.base_url, "--api-key", server.api_key, "list", "users"
    )
    assert refused.returncode == 1 and "administrators only" in refused.stderr
    # the admin port answers only the admin API
    assert httpx.get(admin.admin_url + "/v1/system/healthz").status_code == 404
    assert httpx.get(admin.admin_url + "/api/v1/admin/ping").text == "PONG"


def test_the_shell_reads_ragflow_statements(admin: Admin, config_home: Path) -> None:
    script = "\n".join(
        [
            "LIST USERS;",
            "CREATE USER 'dave@example.com' 'a pass; with semicolon';",
            "show user 'dave@example.com'; SHOW VERSION;",
            "GENERATE KEY FOR USER",
            "  'dave@example.com';",
            "LIST NONSENSE;",
            "SHUTDOWN SERVICE 1;",
            "\\?",
            "DROP USER 'dave@example.com';",
            "\\q",
            "LIST USERS;",
        ]
    )
    done = cli(
        config_home,
        "--url",
        admin.admin_url,
        "--email",
        ROOT,
        "--password",
        ROOT_PASSWORD,
        "--json",
        "shell",
        stdin=script + "\n",
    )
    assert done.returncode == 1, done.stderr  # three statements failed
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 3, done.stderr
    assert "Unknown statement: LIST NONSENSE" in errors[0]
    assert "isn't implemented" in errors[1]
    assert "--yes" in errors[2]
    assert "LIST USERS;" in done.stdout  # the help text
    login = httpx.post(
        admin.server.base_url + "/v1/user/login",
        json={"email": "dave@example.com", "password": "a pass; with semicolon"},
    )
    assert login.json()["code"] == 0

    confirmed = cli(
        config_home,
        "--url",
        admin.admin_url,
        "--email",
        ROOT,
        "--password",
        ROOT_PASSWORD,
        "--yes",
        "shell",
        stdin="drop user 'dave@example.com';\nLIST USERS;\n",
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert "dave@example.com" not in confirmed.stdout.split("Done.")[-1]
