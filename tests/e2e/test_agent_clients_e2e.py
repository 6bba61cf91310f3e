"""Agents of a real server process through the real clients: ragflow-sdk's agent methods,
ragserve.sdk's agent streaming, LiteLLM's ``ragflow/agent/...`` provider and the OpenAI SDK on
``agents_openai``, streaming and not. The agent's model is the fake OpenAI-compatible server
of ``tests/helpers``, which calls the agent's Retrieval tool and answers from its passages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import ragflow_sdk

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server
from ragserve import sdk

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."
CITED = re.compile(r"^According to search, here it is \[ID:(\d+)\]\.$")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("agent-clients") / "home", env) as running:
        yield running


def tool_dsl(dataset_id: str) -> dict[str, Any]:
    tool = {
        "component_name": "Retrieval",
        "name": "search",
        "params": {"kb_ids": [dataset_id], "similarity_threshold": 0.0},
    }
    return {"components": {
        "begin": {"obj": {"component_name": "Begin", "params": {"prologue": "Ask about owls."}},
                  "downstream": ["Agent:A"], "upstream": []},
        "Agent:A": {"obj": {"component_name": "Agent", "params": {
            "llm_id": "openai/fake-chat", "tools": [tool], "max_rounds": 1}},
                    "downstream": ["Message:M"], "upstream": ["begin"]},
        "Message:M": {"obj": {"component_name": "Message", "params": {"content": ["{Agent:A@content}"]}},
                      "downstream": [], "upstream": ["Agent:A"]},
    }}  # fmt: skip


@pytest.fixture(scope="module")
def rag(server: RunningServer) -> Any:
    return ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)


@pytest.fixture(scope="module")
def dataset_id(rag: Any) -> str:
    dataset = rag.create_dataset(name="owls")
    (document,) = dataset.upload_documents(
        [{"display_name": "owls.md", "blob": f"# Owls\n\n{FACT} They rest by day.".encode()}]
    )
    dataset.async_parse_documents([document.id])
    deadline = time.monotonic() + 120
    while dataset.list_documents(id=document.id)[0].run != "DONE":
        assert time.monotonic() < deadline, "parsing did not finish"
        time.sleep(0.3)
    return str(dataset.id)


@pytest.fixture(scope="module")
def agent(rag: Any, dataset_id: str) -> Any:
    assert rag.create_agent("owl agent", tool_dsl(dataset_id), description="Owls.") is None
    [found] = rag.list_agents(title="owl agent")
    return found


def test_ragflow_sdk_agent_methods(rag: Any, agent: Any, dataset_id: str) -> None:
    assert isinstance(agent, ragflow_sdk.Agent) and agent.description == "Owls."
    rag.update_agent(agent.id, description="Barn owls.")
    assert [a.description for a in rag.list_agents(id=agent.id)] == ["Barn owls."]

    session = agent.create_session()
    [message] = list(session.ask("How do barn owls hunt?", stream=False))
    key = CITED.match(message.content)
    assert key is not None, message.content
    # ragflow-sdk reads the reference beside data.data, where RAGFlow does not put it
    assert message.reference is None
    assert [s.id for s in agent.list_sessions(id=session.id)] == [session.id]
    agent.delete_sessions([session.id])
    assert agent.list_sessions() == []

    rag.create_agent("scratch", tool_dsl(dataset_id))
    [scratch] = rag.list_agents(title="scratch")
    rag.delete_agent(scratch.id)
    assert [a.id for a in rag.list_agents()] == [agent.id]


def test_ragserve_sdk_streams_an_agent(server: RunningServer, agent: Any, dataset_id: str) -> None:
    with sdk.RAGFlow(server.api_key, server.base_url) as rag:
        [ours] = rag.list_agents(id=agent.id)
        session = ours.create_session()
        with session.ask("How do barn owls hunt?", stream=True) as stream:
            *pieces, last = list(stream)
    key = CITED.match("".join(m.content for m in pieces))
    assert key is not None
    assert isinstance(last.reference, dict)
    assert last.reference[key.group(1)]["dataset_id"] == dataset_id


LITELLM_SCRIPT = """
import json, sys
import litellm
options = json.loads(sys.argv[1])
plain = litellm.completion(**options)
pieces = [c.choices[0].delta.content or "" for c in litellm.completion(**options, stream=True)
          if c.choices]
print(json.dumps({"content": plain.choices[0].message.content,
                  "total_tokens": plain.usage.total_tokens, "streamed": "".join(pieces)}))
"""


def test_litellm_ragflow_agent_provider(server: RunningServer, agent: Any) -> None:
    """In its own process: LiteLLM keeps its HTTP clients (and their connections) in a
    process-wide cache, which would outlive this module's server."""
    options = {
        "model": f"ragflow/agent/{agent.id}/fake-chat",
        "api_base": server.base_url,
        "api_key": server.api_key,
        "messages": [{"role": "user", "content": "How do barn owls hunt?"}],
    }
    done = subprocess.run(
        [sys.executable, "-c", LITELLM_SCRIPT, json.dumps(options)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert CITED.match(answer["content"] or ""), answer
    assert answer["total_tokens"] > 0
    assert CITED.match(answer["streamed"]), answer


def test_openai_sdk_on_agents_openai(server: RunningServer, agent: Any) -> None:
    base_url = f"{server.base_url}/api/v1/agents_openai/{agent.id}"
    messages: Any = [{"role": "user", "content": "How do barn owls hunt?"}]
    with openai.OpenAI(api_key=server.api_key, base_url=base_url) as client:
        completion = client.chat.completions.create(model="m", messages=messages, stream=False)
        assert CITED.match(completion.choices[0].message.content or "")

        with client.chat.completions.create(model="m", messages=messages, stream=True) as stream:
            text = "".join(
                chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
            )
        assert CITED.match(text), text

    with (
        openai.OpenAI(api_key="ragflow-nope", base_url=base_url) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.chat.completions.create(model="m", messages=messages, stream=False)
