"""Memories of a real server process (with its worker processes, which run the extraction) as
ragflow-sdk calls them. The ragflow-sdk on PyPI (0.23.1, installed) has no memory methods yet;
RAGFlow's repository at 80a16e71 adds them (spec clients.md 2.3). ``MemoryCalls`` makes exactly
those requests (paths, JSON bodies, query parameters with None dropped and lists repeated)
through the installed client's own transport (``RAGFlow.get/post/put/delete``), and reads the
answers as that SDK does (``code`` 0, else an exception with ``message``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ragflow_sdk

from e2e.test_client_cli_e2e import as_json, cli
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e


class MemoryCalls:
    """The memory and message calls of ragflow-sdk at RAGFlow 80a16e71, by their HTTP form."""

    def __init__(self, rag: Any) -> None:
        self.rag = rag

    @staticmethod
    def _data(response: Any) -> Any:
        body = response.json()
        if body.get("code") != 0:
            raise Exception(body["message"])
        return body

    def create_memory(self, name: str, memory_type: list[str], embd_id: str, llm_id: str) -> Any:
        payload = {"name": name, "memory_type": memory_type, "embd_id": embd_id, "llm_id": llm_id}
        return self._data(self.rag.post("/memories", payload))["data"]

    def list_memory(self, page: int = 1, page_size: int = 50, **filters: Any) -> Any:
        params = {"page": page, "page_size": page_size, "tenant_id": None, "memory_type": None,
                  "storage_type": None, "keywords": None, **filters}  # fmt: skip
        return self._data(self.rag.get("/memories", params))["data"]

    def delete_memory(self, memory_id: str) -> None:
        self._data(self.rag.delete(f"/memories/{memory_id}", {}))

    def update(self, memory_id: str, update: dict[str, Any]) -> Any:
        return self._data(self.rag.put(f"/memories/{memory_id}", update))["data"]

    def get_config(self, memory_id: str) -> Any:
        return self._data(self.rag.get(f"/memories/{memory_id}/config"))["data"]

    def list_memory_messages(self, memory_id: str, agent_id: Any = None) -> Any:
        params = {"agent_id": agent_id, "keywords": None, "page": 1, "page_size": 50}
        return self._data(self.rag.get(f"/memories/{memory_id}", params))["data"]

    def add_message(self, memory_id: list[str], agent_id: str, session_id: str, user_input: str,
                    agent_response: str, user_id: str = "") -> str:  # fmt: skip
        payload = {"memory_id": memory_id, "agent_id": agent_id, "session_id": session_id,
                   "user_input": user_input, "agent_response": agent_response, "user_id": user_id}  # fmt: skip
        message: str = self._data(self.rag.post("/messages", payload))["message"]
        return message

    def search_message(self, query: str, memory_id: list[str], agent_id: Any = None,
                       session_id: Any = None, similarity_threshold: float = 0.2,
                       keywords_similarity_weight: float = 0.7, top_n: int = 10) -> Any:  # fmt: skip
        params = {"query": query, "memory_id": memory_id, "agent_id": agent_id,
                  "session_id": session_id, "similarity_threshold": similarity_threshold,
                  "keywords_similarity_weight": keywords_similarity_weight, "top_n": top_n}  # fmt: skip
        return self._data(self.rag.get("/messages/search", params))["data"]

    def get_recent_messages(self, memory_id: list[str], agent_id: Any = None,
                            session_id: Any = None, limit: int = 10) -> Any:  # fmt: skip
        params = {"memory_id": memory_id, "agent_id": agent_id, "session_id": session_id,
                  "limit": limit}  # fmt: skip
        return self._data(self.rag.get("/messages", params))["data"]

    def forget_message(self, memory_id: str, message_id: int) -> bool:
        self._data(self.rag.delete(f"/messages/{memory_id}:{message_id}", {}))
        return True

    def update_message_status(self, memory_id: str, message_id: int, status: bool) -> bool:
        self._data(self.rag.put(f"/messages/{memory_id}:{message_id}", {"status": status}))
        return True

    def get_message_content(self, memory_id: str, message_id: int) -> Any:
        return self._data(self.rag.get(f"/messages/{memory_id}:{message_id}/content"))["data"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("memory") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def calls(server: RunningServer) -> MemoryCalls:
    return MemoryCalls(ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url))


def extracted(calls: MemoryCalls, memory_id: str, count: int) -> list[dict[str, Any]]:
    """The memory's turns once ``count`` of them finished extraction (the workers run it)."""
    deadline = time.monotonic() + 60
    while True:
        listed = calls.list_memory_messages(memory_id)["messages"]["message_list"]
        done = [m for m in listed if m["task"]["status"] in ("done", "failed")]
        if len(done) >= count:
            return list(listed)
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)


def test_memory_lifecycle_through_ragflow_sdk_calls(calls: MemoryCalls) -> None:
    memory = calls.create_memory(
        "trips", ["raw", "semantic"], "openai/fake-embedding", FAKE_CHAT_MODEL
    )
    assert memory["memory_type"] == ["raw", "semantic"] and memory["storage_type"] == "table"
    memory_id = memory["id"]
    listed = calls.list_memory(keywords="trip")
    assert listed["total_count"] == 1 and listed["memory_list"][0]["id"] == memory_id
    assert calls.update(memory_id, {"description": "holidays"})["description"] == "holidays"
    assert calls.get_config(memory_id)["owner_name"]

    said = calls.add_message([memory_id], "agent-1", "s-1", "we fly to Lisbon in May", "Lovely.")
    assert said == "All add to task."
    calls.add_message([memory_id], "agent-2", "s-2", "the cat needs feeding", "Sure.")
    turns = extracted(calls, memory_id, 2)
    lisbon = next(t for t in turns if "Lisbon" in t["content"])
    assert [i["content"] for i in lisbon["extract"]] == ["semantic: we fly to Lisbon in May"]

    found = calls.search_message("Lisbon May", [memory_id], keywords_similarity_weight=1.0)
    assert found and all("Lisbon" in f["content"] for f in found)
    assert calls.search_message("Lisbon", [memory_id], agent_id="agent-2") == []

    recent = calls.get_recent_messages([memory_id], limit=1)
    assert [m["agent_id"] for m in recent] == ["agent-2"]
    number = lisbon["message_id"]
    assert calls.get_message_content(memory_id, number)["content"] == lisbon["content"]
    assert calls.update_message_status(memory_id, number, False)
    assert calls.search_message("Lisbon May", [memory_id], similarity_threshold=0.0) == []
    assert calls.update_message_status(memory_id, number, True)
    assert calls.forget_message(memory_id, number)
    assert calls.search_message("Lisbon May", [memory_id], similarity_threshold=0.0) == []

    with pytest.raises(Exception, match=r"Can't update \['embd_id'\] when memory isn't empty\."):
        calls.update(memory_id, {"embd_id": "openai/other"})
    with pytest.raises(Exception, match=r"^Memory name cannot be empty or whitespace\.$"):
        calls.create_memory(" ", ["raw"], "e", "l")
    calls.delete_memory(memory_id)
    with pytest.raises(Exception, match=f"^Memory '{memory_id}' not found.$"):
        calls.get_config(memory_id)


def test_memory_commands(server: RunningServer, tmp_path: Path) -> None:
    """``ragserve memory ...`` as a user runs it, without a terminal."""
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    home = tmp_path / "xdg"
    created = cli(home, "memory", "create", "pets", "-t", "raw", "-t", "episodic",
                  "-e", "openai/fake-embedding", "-l", FAKE_CHAT_MODEL, "-q", **key)  # fmt: skip
    assert created.returncode == 0, created.stderr
    memory_id = created.stdout.strip()
    [listed] = as_json(cli(home, "memory", "list", "--json", **key))
    assert (listed["id"], listed["types"]) == (memory_id, "raw,episodic")

    added = cli(home, "memory", "add", "my dog is Rex", "Good name.", "-m", "pets",
                "--agent", "a1", "--session", "s1", **key)  # fmt: skip
    assert added.returncode == 0 and "All add to task." in added.stdout, added.stderr
    deadline = time.monotonic() + 60
    while True:
        [turn] = as_json(cli(home, "memory", "messages", "-m", memory_id, "--json", **key))
        if turn["task"]["status"] == "done":
            break
        assert time.monotonic() < deadline, turn
        time.sleep(0.3)
    assert [item["content"] for item in turn["extract"]] == ["episodic: my dog is Rex"]
    found = as_json(cli(home, "memory", "search", "dog Rex", "-m", "pets",
                        "--keywords-weight", "1", "--json", **key))  # fmt: skip
    assert {f["source_id"] or f["message_id"] for f in found} == {turn["message_id"]}

    forgot = cli(home, "memory", "forget", str(turn["message_id"]), "-m", "pets", **key)
    assert forgot.returncode == 0, forgot.stderr
    assert as_json(cli(home, "memory", "search", "dog", "-m", "pets", "--json", **key)) == []
    missing = cli(home, "memory", "messages", "-m", "nothing", **key)
    assert missing.returncode == 1 and "Memory nothing does not exist." in missing.stderr
    deleted = cli(home, "memory", "delete", "pets", "--yes", **key)
    assert deleted.returncode == 0 and "Deleted 1 memory(ies)" in deleted.stdout
    assert "(none)" in cli(home, "memory", "list", **key).stdout
