"""An embedded chat widget's conversation against a real server process: the beta token of a
new API token opens the chat bot, whose answer streams over real HTTP (read event by event as
it arrives), with the fake OpenAI-compatible model server behind the chat."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import ragflow_sdk

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."


def reply(messages: list[dict[str, Any]]) -> str:
    question = str(messages[-1].get("content", ""))
    return FACT if "owl" in question.lower() else f"Fake answer to: {question}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("bots") / "home", env) as running:
        yield running


def owl_chat(server: RunningServer) -> Any:
    rag = ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)
    dataset = rag.create_dataset(name="owls")
    (document,) = dataset.upload_documents(
        [{"display_name": "owls.md", "blob": f"# Owls\n\n{FACT} They rest by day.".encode()}]
    )
    dataset.async_parse_documents([document.id])
    deadline = time.monotonic() + 120
    while dataset.list_documents(id=document.id)[0].run != "DONE":
        assert time.monotonic() < deadline, "parsing did not finish"
        time.sleep(0.3)
    return rag.create_chat("owl expert", dataset_ids=[dataset.id])


def streamed(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    """The events of a stream, each parsed as soon as its blank line arrives."""
    events: list[Any] = []
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        pending = ""
        for text in response.iter_text():
            pending += text
            while "\n\n" in pending:
                block, pending = pending.split("\n\n", 1)
                assert block.startswith("data:{"), block
                events.append(json.loads(block[len("data:") :]))
        assert pending == ""
    return events


def test_a_beta_token_chat_bot_conversation(server: RunningServer) -> None:
    chat = owl_chat(server)
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        api = {"Authorization": f"Bearer {server.api_key}"}
        made = client.post("/v1/system/new_token", headers=api).json()
        assert made["code"] == 0, made
        client.headers["Authorization"] = f"Bearer {made['data']['beta']}"

        info = client.get(f"/api/v1/chatbots/{chat.id}/info").json()
        assert info["code"] == 0 and info["data"]["title"] == "owl expert"

        opening = streamed(client, f"/api/v1/chatbots/{chat.id}/completions", {})
        assert opening[-1] == {"code": 0, "message": "", "data": True}
        assert opening[0]["data"]["answer"] == info["data"]["prologue"]
        session_id = opening[0]["data"]["session_id"]

        body = {"session_id": session_id, "question": "How do owls hunt?", "quote": True}
        events = streamed(client, f"/api/v1/chatbots/{chat.id}/completions", body)
        assert events[-1] == {"code": 0, "data": True}
        deltas = [e["data"] for e in events[:-1] if e["data"].get("final") is False]
        [final] = [e["data"] for e in events[:-1] if e["data"].get("final") is True]
        assert "".join(d["answer"] for d in deltas) == FACT
        assert {d["session_id"] for d in deltas} == {session_id}
        assert final["reference"]["chunks"][0]["document_name"] == "owls.md"

        # the beta token opens nothing but the widgets; the API key, no widget
        assert client.get("/api/v1/datasets").json()["code"] == 109
        refused = client.get(f"/api/v1/chatbots/{chat.id}/info", headers=api).json()
        assert refused == {"code": 102, "message": 'Authentication error: API key is invalid!"'}

    [stored] = chat.list_sessions(id=session_id)
    assert [m["role"] for m in stored.messages] == ["assistant", "user", "assistant"]
    assert stored.messages[-1]["content"].startswith(FACT)
