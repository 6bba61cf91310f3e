"""Tools in an agent run through the API: the service's environment gives them ragserve's
settings (an ExeSQL node reads a SQLite file from ``agent_sqlite_dir``; CodeExec is off unless
enabled, and says so in the run's error)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_agent_completions import run
from api.test_agents import make_agent
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    folder = tmp_path / "sqlite"
    folder.mkdir()
    connection = sqlite3.connect(folder / "birds.db")
    connection.execute("CREATE TABLE birds (name text, wingspan real)")
    connection.execute("INSERT INTO birds VALUES ('crane', 2.3), ('wren', 0.15)")
    connection.commit()
    connection.close()
    base = fake.settings(tmp_path / "home", "sk-test-key")
    return base.model_copy(update={"agent_sqlite_dir": folder})


def tool_dsl(name: str, params: dict[str, Any], said: str) -> dict[str, Any]:
    def node(component: str, node_params: dict[str, Any], down: list[str]) -> dict[str, Any]:
        return {"obj": {"component_name": component, "params": node_params},
                "downstream": down, "upstream": []}  # fmt: skip

    return {
        "components": {
            "begin": node("Begin", {}, [f"{name}:t"]),
            f"{name}:t": node(name, params, ["Message:m"]),
            "Message:m": node("Message", {"content": [said]}, []),
        }
    }


def test_an_exesql_node_reads_the_configured_sqlite_dir(alice: Account) -> None:
    params = {"db_type": "sqlite", "database": "birds.db"}
    agent = make_agent(alice, "sql", tool_dsl("ExeSQL", params, "{ExeSQL:t@formalized_content}"))
    result = run(alice, agent, question="SELECT name FROM birds WHERE wingspan > 1", stream=False)
    assert result["code"] == 0, result
    assert result["data"]["data"]["content"] == "| name |\n|---|\n| crane |"


def test_code_exec_is_off_by_default(alice: Account) -> None:
    dsl = tool_dsl("CodeExec", {"script": "def main():\n    return 1"}, "{CodeExec:t@content}")
    agent = make_agent(alice, "code", dsl)
    events = run(alice, agent, question="run it")
    said = "".join(e["data"].get("content") or "" for e in events if e["event"] == "message")
    assert "CodeExec is off on this server (setting `agent_code_exec_enabled`)." in said
