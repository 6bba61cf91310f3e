"""docs/sdk.md's examples, run in order against a real server (with the fake model), so the
documentation cannot drift from the SDK."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def reply(messages: list[dict[str, Any]]) -> str:
    return "Barn owls hunt at night by sound alone."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with FakeOpenAI(reply=reply) as fake:
        env = fake.server_env("sk-docs")
        with running_server(tmp_path_factory.mktemp("sdk-docs") / "home", env) as running:
            yield running


def test_the_examples_run(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGSERVE_URL", server.base_url)
    monkeypatch.setenv("RAGSERVE_API_KEY", server.api_key)
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8
    namespace: dict[str, Any] = {"__name__": "docs_sdk"}
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"{DOC.name} (example {number})", "exec"), namespace)
    namespace["rag"].close()  # the first example's client, as a script would leave it at exit
    printed = capsys.readouterr().out
    assert "['owls.md']" in printed and "owls.md: DONE 100%" in printed
    assert "Dataset name 'birds(1)' already exists" in printed
    assert "TransportError" in printed and "gave up" not in printed
    assert "raw User Input: We fly to Lisbon in May." in printed
    assert "1 recent turn(s)" in printed
    assert re.search(r"here it is \[ID:(\d+)\]\.\{'\1': 'owls.md'\}", printed), printed
