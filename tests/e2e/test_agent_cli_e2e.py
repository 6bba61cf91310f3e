"""``ragserve agent create|list|delete|run`` as a user runs them (subprocesses, with and
without a terminal) against a real server whose model is the fake provider, which calls the
agent's Retrieval tool and answers citing what it found."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.test_agent_clients_e2e import tool_dsl
from e2e.test_client_cli_e2e import as_json, cli, environment
from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server
from helpers.terminal import Terminal
from ragserve import sdk

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."
CITED = re.compile(r"According to search, here it is \[ID:(\d+)\]\.")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("agent-cli") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def dsl_file(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with sdk.RAGFlow(server.api_key, server.base_url) as rag:
        dataset = rag.create_dataset(name="owls")
        [document] = dataset.upload_documents(
            [{"display_name": "owls.md", "blob": f"# Owls\n\n{FACT}".encode()}]
        )
        [(_, run, _, _)] = dataset.parse_documents([document.id])
        assert run == "DONE"
        path = tmp_path_factory.mktemp("dsl") / "owls.json"
        path.write_text(json.dumps(tool_dsl(str(dataset.id))))
        return path


def test_agent_commands(server: RunningServer, dsl_file: Path, tmp_path: Path) -> None:
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"

    [created] = as_json(cli(home, "agent", "create", "--file", str(dsl_file), "--json", **key))
    assert created["title"] == "owls" and re.fullmatch(r"[0-9a-f]{32}", created["id"])
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps({"title": "Owl helper", "description": "Owls.",
                                    "dsl": json.loads(dsl_file.read_text())}))  # fmt: skip
    second = cli(home, "agent", "create", "-f", str(exported), "-q", **key)
    assert second.returncode == 0, second.stderr
    other_id = second.stdout.strip()
    listed = as_json(cli(home, "agent", "list", "--json", **key))
    assert {(row["title"], row["id"]) for row in listed} == {
        ("owls", created["id"]), ("Owl helper", other_id)}  # fmt: skip
    assert "Owl helper" in cli(home, "agent", "list", **key).stdout

    ran = cli(home, "agent", "run", "How do barn owls hunt?", "--agent", "owls", **key)
    assert ran.returncode == 0, ran.stderr
    assert CITED.search(ran.stdout), ran.stdout
    assert "Sources:" in ran.stdout and "owls.md" in ran.stdout
    assert "▶" not in ran.stderr  # no terminal: no progress
    session = re.search(r"\(session ([0-9a-f]{32})\)", ran.stdout)
    assert session is not None
    again = as_json(cli(home, "agent", "run", "And by day?", "-a", other_id,
                        "--json", **key))  # fmt: skip
    assert CITED.search(again["answer"]) and again["sources"]
    continued = as_json(cli(home, "agent", "run", "More?", "-a", "owls", "--session",
                            session.group(1), "--json", **key))  # fmt: skip
    assert continued["session_id"] == session.group(1)

    refused = cli(home, "agent", "delete", "Owl helper", stdin="n\n", **key)
    assert refused.returncode == 1 and "Nothing deleted" in refused.stderr
    deleted = cli(home, "agent", "delete", "Owl helper", stdin="y\n", **key)
    assert deleted.returncode == 0 and "Deleted 1 agent(s)" in deleted.stdout
    assert cli(home, "agent", "delete", "owls", "--yes", **key).returncode == 0
    assert "(none)" in cli(home, "agent", "list", **key).stdout


def test_agent_errors(server: RunningServer, tmp_path: Path) -> None:
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"
    unknown = cli(home, "agent", "run", "hi", "--agent", "nope", **key)
    assert unknown.returncode == 1 and "Agent nope does not exist." in unknown.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = cli(home, "agent", "create", "--file", str(broken), **key)
    assert bad.returncode == 1 and "is not JSON" in bad.stderr
    broken.write_text('{"title": "x"}')
    shapeless = cli(home, "agent", "create", "--file", str(broken), **key)
    assert shapeless.returncode == 1 and "holds no agent DSL" in shapeless.stderr
    gone = tmp_path / "gone.json"
    gone.write_text(json.dumps({"components": {"begin": {
        "obj": {"component_name": "Begin", "params": {}}, "downstream": ["nowhere"]}}}))  # fmt: skip
    assert cli(home, "agent", "create", "-f", str(gone), "-q", **key).returncode == 0
    failed = cli(home, "agent", "run", "hi", "-a", "gone", **key)
    assert failed.returncode == 1 and "nowhere" in failed.stderr


def test_a_terminal_shows_the_components_as_they_run(
    server: RunningServer, dsl_file: Path, tmp_path: Path
) -> None:
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"
    assert (
        cli(home, "agent", "create", "-f", str(dsl_file), "--title", "tty", **key).returncode == 0
    )
    with Terminal(["agent", "run", "How do barn owls hunt?", "-a", "tty"],
                  environment(home, **key), columns=120) as term:  # fmt: skip
        assert term.wait() == 0, term.text[-3000:]
    text = term.text
    assert "▶ begin" in text and "▶ Agent:A" in text and "▶ Message:M" in text
    assert text.index("▶ Message:M") < text.index("According to search")


def test_agents_from_templates(server: RunningServer, dsl_file: Path, tmp_path: Path) -> None:
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"
    listed = as_json(cli(home, "agent", "templates", "--json", **key))
    assert [row["name"] for row in listed] == [
        "cited_qa", "deep_research", "interactive_writer", "support_triage"]  # fmt: skip
    assert all(row["title"] and row["description"] for row in listed)
    assert "cited_qa" in cli(home, "agent", "templates", **key).stdout

    [created] = as_json(cli(home, "agent", "create", "--template", "cited_qa",
                            "--dataset", "owls", "--json", **key))  # fmt: skip
    assert created["title"] == "Cited answers from datasets"
    with sdk.RAGFlow(server.api_key, server.base_url) as rag:
        [owls] = rag.list_datasets(name="owls")
        [agent] = rag.list_agents(id=created["id"])
        dsl = agent.dsl.to_json()
    assert dsl["components"]["Retrieval:FindPassages"]["obj"]["params"]["kb_ids"] == [owls.id]
    ran = as_json(cli(home, "agent", "run", "How do barn owls hunt?", "-a", created["id"],
                      "--json", **key))  # fmt: skip
    assert ran["answer"] == "Fake answer to: How do barn owls hunt?"

    research = cli(home, "agent", "create", "-t", "deep_research", "--title", "dig", "-q", **key)
    assert research.returncode == 0 and re.fullmatch(r"[0-9a-f]{32}\n", research.stdout)
    unknown = cli(home, "agent", "create", "--template", "nope", **key)
    assert (
        unknown.returncode == 1 and "No template nope; the server has: cited_qa" in unknown.stderr
    )
    both = cli(home, "agent", "create", "--template", "cited_qa", "--file", str(dsl_file), **key)
    assert both.returncode == 1 and "Give either --file or --template." in both.stderr
    assert cli(home, "agent", "create", **key).returncode == 1
