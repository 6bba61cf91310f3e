"""``ragserve file ...`` as a user runs them (subprocesses without a terminal) against a real
server: folders by path, uploads of directories, convert, download, rename, move, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.test_client_cli_e2e import as_json, cli
from helpers.server import RunningServer, running_server
from ragserve import sdk

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("file-cli") / "home") as running:
        yield running


def test_file_commands(server: RunningServer, tmp_path: Path) -> None:
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"
    local = tmp_path / "notes"
    (local / "birds").mkdir(parents=True)
    (local / "owls.md").write_text("# Owls\n\nBarn owls hunt at night.")
    (local / "birds" / "cranes.txt").write_text("Cranes migrate.")

    made = cli(home, "file", "mkdir", "/work/2024", **key)
    assert made.returncode == 0, made.stderr
    folder_id = made.stdout.strip()
    uploaded = as_json(
        cli(home, "file", "upload", str(local), "--to", "/work/2024", "--json", **key)
    )
    assert {row["name"] for row in uploaded} == {"owls.md", "cranes.txt"}
    listed = as_json(cli(home, "file", "list", "/work/2024/notes", "--json", **key))
    assert {row["name"] for row in listed} == {"owls.md", "birds"}
    table = cli(home, "file", "list", folder_id, **key)
    assert table.returncode == 0 and "notes/" in table.stdout

    with sdk.RAGFlow(server.api_key, server.base_url) as rag:
        rag.create_dataset(name="birds")
    links = as_json(
        cli(home, "file", "convert", "/work/2024/notes", "-d", "birds", "--json", **key)
    )
    assert len(links) == 2
    listed = as_json(cli(home, "file", "list", "/work/2024/notes", "--json", **key))
    owls = next(row for row in listed if row["name"] == "owls.md")
    assert [info["kb_name"] for info in owls["kbs_info"]] == ["birds"]

    saved = tmp_path / "copy.md"
    done = cli(home, "file", "download", "/work/2024/notes/owls.md", "-o", str(saved), **key)
    assert done.returncode == 0, done.stderr
    assert saved.read_text() == "# Owls\n\nBarn owls hunt at night."
    assert cli(home, "file", "rename", owls["id"], "barn-owls.md", **key).returncode == 0
    assert (
        cli(home, "file", "mv", "/work/2024/notes/barn-owls.md", "--to", "/work", **key).returncode
        == 0
    )
    assert {
        row["name"] for row in as_json(cli(home, "file", "list", "/work", "--json", **key))
    } == {
        "2024",
        "barn-owls.md",
    }
    refused = cli(home, "file", "rename", owls["id"], "barn-owls.txt", **key)
    assert refused.returncode == 1 and "The extension of file can't be changed" in refused.stderr
    missing = cli(home, "file", "list", "/nowhere", **key)
    assert missing.returncode == 1 and "/nowhere does not exist." in missing.stderr

    assert cli(home, "file", "rm", "/work", **key).returncode == 1  # asked, no answer
    removed = cli(home, "file", "rm", "/work", "--yes", **key)
    assert removed.returncode == 0, removed.stderr
    assert [row["name"] for row in as_json(cli(home, "file", "list", "--json", **key))] == []
    with sdk.RAGFlow(server.api_key, server.base_url) as rag:
        assert rag.list_datasets(name="birds")[0].list_documents() == []
