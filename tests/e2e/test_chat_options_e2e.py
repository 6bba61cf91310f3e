"""Deep research and web search through a real server process: the native stream (reasoning
between ``start_to_think``/``end_to_think``), the OpenAI SDK (``reasoning_content``), a client
that goes away midway, and web pages from a local server speaking Tavily's protocol."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import ragflow_sdk

from helpers.fake_openai import FakeOpenAI, default_reply
from helpers.fake_tavily import FakeTavily
from helpers.server import RunningServer, running_server
from ragserve.rag import prompt

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."
REVIEW_SECONDS = 1.5


def reply(messages: list[dict[str, Any]]) -> str:
    """The fake's answers, the research review taking a while (a window to hang up in)."""
    if str(messages[0].get("content", "")).startswith(prompt.RESEARCH_CHECK_PROMPT[:20]):
        time.sleep(REVIEW_SECONDS)
    return default_reply(messages)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture(scope="module")
def tavily() -> Iterator[FakeTavily]:
    with FakeTavily() as server:
        yield server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI, tavily: FakeTavily
) -> Iterator[RunningServer]:
    env = {**fake.server_env("sk-e2e"), "RAGSERVE_TAVILY_BASE_URL": tavily.base_url}
    with running_server(tmp_path_factory.mktemp("chat-options") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def chat_id(server: RunningServer) -> str:
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
    body = {
        "name": "researcher",
        "dataset_ids": [dataset.id],
        "prompt": {"reasoning": True, "tavily_api_key": "tvly-e2e"},
    }
    created = httpx.post(f"{server.base_url}/api/v1/chats", json=body, headers=headers(server))
    assert created.json()["code"] == 0, created.text
    assert created.json()["data"]["prompt"]["reasoning"] is True
    identifier: str = created.json()["data"]["id"]
    return identifier


def headers(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def session_of(server: RunningServer, chat_id: str) -> str:
    url = f"{server.base_url}/api/v1/chats/{chat_id}/sessions"
    session_id: str = httpx.post(url, json={}, headers=headers(server)).json()["data"]["id"]
    return session_id


def events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield json.loads(line[len("data:") :])


def test_native_stream_reasons_then_answers_with_web_pages(
    server: RunningServer, chat_id: str, tavily: FakeTavily
) -> None:
    body = {"question": "How do owls hunt?", "session_id": session_of(server, chat_id)}
    url = f"{server.base_url}/api/v1/chats/{chat_id}/completions"
    with httpx.stream("POST", url, json=body, headers=headers(server), timeout=60) as response:
        data = [event["data"] for event in events(response)]
    assert data[-1] is True
    flags = [("start" if d.get("start_to_think") else "end") for d in data[:-1]
             if d.get("start_to_think") or d.get("end_to_think")]  # fmt: skip
    assert flags == ["start", "end"]
    start = next(i for i, d in enumerate(data) if d is not True and d.get("start_to_think"))
    end = next(i for i, d in enumerate(data) if d is not True and d.get("end_to_think"))
    reasoning = "".join(d["answer"] for d in data[start + 1 : end])
    assert "1. How do owls hunt?" in reasoning and "owls.md" in reasoning
    answer = "".join(d["answer"] for d in data[end + 1 : -1] if d.get("final") is False)
    assert answer == "Fake answer to: How do owls hunt?"
    [final] = [d for d in data[:-1] if d.get("final") is True]
    chunks = final["reference"]["chunks"]
    assert chunks[0]["document_name"] == "owls.md" and chunks[0]["url"] is None
    assert all(c["url"] is None for c in chunks)  # the web had nothing on owls
    assert tavily.requests[-1].body["query"] == "How do owls hunt?"
    assert tavily.requests[-1].api_key == "tvly-e2e"


def test_openai_sdk_stream_carries_reasoning_content(
    server: RunningServer, chat_id: str, tavily: FakeTavily
) -> None:
    client = openai.OpenAI(
        api_key=server.api_key, base_url=f"{server.base_url}/api/v1/chats_openai/{chat_id}"
    )
    messages: Any = [{"role": "user", "content": "Where do cranes stop during migration?"}]
    stream = client.chat.completions.create(
        model="m", messages=messages, stream=True, extra_body={"reference": True}
    )
    reasoning, content, last = "", "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        content += delta.content or ""
        last = delta
    assert reasoning.startswith("Planning how to research the question in the knowledge base")
    assert "and the web" in reasoning.splitlines()[0]
    assert content == "Fake answer to: Where do cranes stop during migration?"
    assert last is not None
    urls = [chunk["url"] for chunk in last.reference]  # type: ignore[attr-defined]
    assert "https://birds.example/cranes/migration" in urls


def test_a_client_that_hangs_up_stops_the_research(
    server: RunningServer, chat_id: str, fake: FakeOpenAI
) -> None:
    question = "Why do owls hoot and where is the moon?"  # nothing on the moon: a review follows
    body = {"question": question, "session_id": session_of(server, chat_id)}
    url = f"{server.base_url}/api/v1/chats/{chat_id}/completions"
    with httpx.stream("POST", url, json=body, headers=headers(server), timeout=60) as response:
        for event in events(response):
            if "Round 1" in str(event["data"].get("answer", "")):
                break  # hang up while the research goes on
    time.sleep(REVIEW_SECONDS + 3)  # the review under way ends; nothing may follow it

    def about_it(request_body: dict[str, Any]) -> bool:
        return any(question in str(m.get("content", "")) for m in request_body["messages"])

    mine = [r.body for r in fake.requests if r.path == "/v1/chat/completions" and about_it(r.body)]
    assert mine, "the research started"
    assert not any(body.get("stream") for body in mine), "the answer was never asked for"
    reviews = [b for b in mine if str(b["messages"][0]["content"]).startswith("You review")]
    assert len(reviews) <= 1
