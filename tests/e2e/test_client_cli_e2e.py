"""The client commands of ``ragserve`` as a user runs them: subprocesses without a terminal,
against a real server whose chat model is the fake provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=lambda messages: FACT) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("cli") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg")


def cli(config_home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``ragserve <args>`` with no terminal and its own config directory."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("RAGSERVE_")
    }
    environment.update({"XDG_CONFIG_HOME": str(config_home), "COLUMNS": "200", **env})
    done = subprocess.run(
        [sys.executable, "-m", "ragserve", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert "\x1b[" not in done.stdout + done.stderr, "control codes without a terminal"
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_client_commands(server: RunningServer, config_home: Path, tmp_path: Path) -> None:
    missing = cli(config_home, "dataset", "list")
    assert missing.returncode == 2 and "No API key" in missing.stderr

    login = cli(config_home, "login", "--url", server.base_url, "--api-key", server.api_key)
    assert login.returncode == 0, login.stderr
    saved = config_home / "ragserve" / "client.json"
    assert json.loads(saved.read_text()) == {"url": server.base_url, "api_key": server.api_key}
    assert saved.stat().st_mode & 0o777 == 0o600

    [dataset] = as_json(cli(config_home, "dataset", "create", "birds", "--json"))
    assert dataset["name"] == "birds" and dataset["chunks"] == 0

    folder = tmp_path / "docs"
    (folder / "more").mkdir(parents=True)
    (folder / "owls.md").write_text(f"# Owls\n\n{FACT} They rest by day.")
    (folder / "more" / "cranes.txt").write_text("Cranes migrate across continents in autumn.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (folder / ".hidden").write_text("skipped")
    upload = cli(config_home, "doc", "upload", str(folder), "--dataset", dataset["id"], "--json")
    assert upload.returncode == 1, upload.stderr
    outcomes = {Path(row["file"]).name: row for row in json.loads(upload.stdout)}
    assert set(outcomes) == {"owls.md", "cranes.txt", "broken.pdf"}
    assert outcomes["owls.md"]["run"] == outcomes["cranes.txt"]["run"] == "DONE"
    assert outcomes["owls.md"]["chunks"] >= 1
    assert outcomes["broken.pdf"]["run"] == "FAIL" and outcomes["broken.pdf"]["message"]
    assert "1 of 3 file(s) failed." in upload.stderr

    plain = cli(config_home, "doc", "list", "--dataset", dataset["id"])
    assert plain.returncode == 0 and "owls.md" in plain.stdout and "DONE" in plain.stdout
    documents = {d["name"]: d for d in as_json(cli(config_home, "doc", "list", "-d", dataset["id"],
                                                   "--json"))}  # fmt: skip
    owls = documents["owls.md"]["id"]
    chunks = as_json(cli(config_home, "chunk", "list", "-d", dataset["id"], "--doc", owls,
                         "--keywords", "hunting", "--json"))  # fmt: skip
    assert len(chunks) == 1 and "<em>hunt</em>" in chunks[0]["content"]

    found = as_json(
        cli(config_home, "retrieve", "How do owls hunt?", "-d", dataset["id"], "--json")
    )
    assert found[0]["source"] == "owls.md" and found[0]["rank"] == 1
    table = cli(config_home, "retrieve", "How do owls hunt?", "-d", dataset["id"])
    assert table.returncode == 0 and "owls.md" in table.stdout

    [chat] = as_json(
        cli(config_home, "chat", "create", "owl expert", "-d", dataset["id"], "--json")
    )
    assert any(c["id"] == chat["id"] for c in as_json(cli(config_home, "chat", "list", "--json")))
    asked = cli(config_home, "ask", "How do owls hunt?", "--chat", chat["id"])
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith(FACT)
    assert "Sources:" in asked.stdout and "[0] owls.md" in asked.stdout
    answer = as_json(cli(config_home, "ask", "And owls?", "--chat", chat["id"], "--json"))
    assert answer["answer"].startswith(FACT) and answer["sources"]

    renamed = cli(config_home, "dataset", "update", dataset["id"], "--name", "raptors")
    assert renamed.returncode == 0, renamed.stderr
    assert as_json(cli(config_home, "dataset", "list", "--json"))[0]["name"] == "raptors"
    assert cli(config_home, "doc", "delete", owls, "-d", dataset["id"]).returncode == 0
    assert cli(config_home, "dataset", "delete", dataset["id"]).returncode == 0
    assert as_json(cli(config_home, "dataset", "list", "--json")) == []

    wrong = cli(config_home, "dataset", "list", "--api-key", "ragflow-wrong")
    assert wrong.returncode == 1 and wrong.stderr.startswith("Error:")
    unreachable = cli(config_home, "dataset", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "Cannot reach the server" in unreachable.stderr
