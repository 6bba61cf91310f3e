"""GET /v1/canvas/templates, and each shipped template run as an agent against the fake model
server (over HTTP) and a parsed dataset."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Corpus
from api.test_agent_completions import reply as cited_reply
from api.test_agent_completions import run
from api.test_agents import make_agent
from conftest import Account
from helpers.fake_openai import FakeOpenAI
from ragserve.agent import dsl as agent_dsl
from ragserve.agent import templates
from ragserve.client_cli._agents import with_datasets
from ragserve.settings import Settings

NAMES = ["cited_qa", "deep_research", "interactive_writer", "support_triage"]


def reply(messages: list[dict[str, Any]]) -> str:
    """Categorize's prompt answered by topic; anything else as the completion tests do."""
    system = str(messages[0].get("content", "")) if messages[0].get("role") == "system" else ""
    if system.startswith("You sort a user's message"):
        question = str(messages[-1]["content"]).lower()
        return "billing" if "charged" in question else "technical" if "crash" in question else "?"
    return cited_reply(messages)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeOpenAI) -> Settings:
    return fake.settings(tmp_path / "home", "sk-test-key")


def template(account: Account, name: str) -> dict[str, Any]:
    listed = account.client.get("/v1/canvas/templates", headers=account.api_headers).json()
    [found] = [t for t in listed["data"] if t["id"] == name]
    return found


def agent_from(account: Account, name: str, dataset_id: str | None = None) -> str:
    dsl = template(account, name)["dsl"]
    return make_agent(account, name, with_datasets(dsl, [dataset_id]) if dataset_id else dsl)


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["content"] for e in events if e["event"] == "message")


def test_templates_are_listed_and_load(alice: Account, client: Any) -> None:
    listed = alice.client.get("/v1/canvas/templates", headers=alice.api_headers).json()
    assert listed["code"] == 0 and listed["message"] == "success"
    assert [t["id"] for t in listed["data"]] == NAMES == templates.names()
    for item in listed["data"]:
        assert item["title"]["en"] and item["description"]["en"]
        assert item["canvas_category"] == "agent_canvas"
        agent_dsl.load(item["dsl"])
    web = alice.client.get("/v1/canvas/templates", headers=alice.web_headers).json()
    assert web == listed
    refused = client.get("/v1/canvas/templates")
    assert refused.status_code == 401 and refused.json()["code"] == 401


def test_with_datasets_reaches_every_retrieval() -> None:
    [research] = [t for t in templates.templates() if t["id"] == "deep_research"]
    filled = with_datasets(research["dsl"], ["d1"])
    lead = filled["components"]["Agent:LeadResearcher"]["obj"]["params"]
    researcher = lead["tools"][0]["params"]
    assert researcher["tools"][0]["params"]["kb_ids"] == ["d1"]
    assert (
        research["dsl"]["components"]["Agent:LeadResearcher"]["obj"]["params"]["tools"][0][
            "params"
        ]["tools"][0]["params"]["kb_ids"]
        == []
    )  # the template itself is left alone


def test_cited_qa(alice: Account, corpus: Corpus) -> None:
    agent = agent_from(alice, "cited_qa", corpus.dataset_id)
    events = run(alice, agent, question="When do whooping cranes migrate?")
    text = text_of(events)
    key = re.search(r"\[ID:(\d+)\]", text)
    assert key is not None, text
    [end] = [e["data"] for e in events if e["event"] == "message_end"]
    chunk = end["reference"]["chunks"][key.group(1)]
    assert chunk["dataset_id"] == corpus.dataset_id and "cranes" in chunk["content"].lower()


def test_support_triage(alice: Account, corpus: Corpus) -> None:
    agent = agent_from(alice, "support_triage", corpus.dataset_id)
    cases = {
        "I was charged twice for bread": "Message:Billing",
        "The app crashes when cranes migrate": "Message:Technical",
        "Hello there": "Message:General",
    }
    for question, message in cases.items():
        events = run(alice, agent, question=question)
        ran = [e["data"]["component_id"] for e in events if e["event"] == "node_finished"]
        assert ran[-1] == message and ran[1] == "Categorize:SortRequest", ran
        if message == "Message:Technical":
            assert re.search(r"\[ID:\d+\]", text_of(events)), text_of(events)
        else:
            assert text_of(events) == f"Fake answer to: {question}"


def test_interactive_writer(alice: Account, fake: FakeOpenAI) -> None:
    agent = agent_from(alice, "interactive_writer")
    asked = run(alice, agent, question="tides", stream=False)["data"]
    assert asked["event"] == "user_inputs"
    assert set(asked["data"]["inputs"]) == {"reader", "sentences"}
    assert '"tides"' in asked["data"]["tips"]
    answered = run(
        alice,
        agent,
        session_id=asked["session_id"],
        inputs={"reader": {"value": "an expert"}, "sentences": {"value": 2}},
        stream=False,
    )["data"]
    assert answered["event"] == "workflow_finished"
    assert answered["data"]["content"] == "Fake answer to: Write about: tides"
    system = fake.requests[-1].body["messages"][0]["content"]
    assert "The reader is an expert" in system and "about 2 sentences" in system


def test_deep_research(alice: Account, corpus: Corpus, fake: FakeOpenAI) -> None:
    agent = agent_from(alice, "deep_research", corpus.dataset_id)
    events = run(alice, agent, question="When do whooping cranes migrate?")
    text = text_of(events)
    assert text.startswith("According to researcher"), text
    offered = [
        [tool["function"]["name"] for tool in request.body["tools"]]
        for request in fake.requests
        if request.body.get("tools")
    ]
    assert ["researcher", "reviewer"] in offered and ["search_datasets"] in offered
    [end] = [e["data"] for e in events if e["event"] == "message_end"]
    chunks = end["reference"]["chunks"]
    assert any(c["dataset_id"] == corpus.dataset_id for c in chunks.values()), end
