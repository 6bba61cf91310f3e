"""Fixtures of the agent unit tests: an environment whose chat model is the fake OpenAI server
(over real HTTP) and whose datasets are a fixed list of chunks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from helpers.fake_openai import FakeOpenAI
from ragserve.agent import dsl as dsl_module
from ragserve.agent.environment import MemoryQuery, RetrievalQuery, RetrievedChunks
from ragserve.agent.errors import ComponentError
from ragserve.agent.runner import Run, RunCall, RunEvent
from ragserve.errors import DataError
from ragserve.models.chat import ChatModel, chat_model_for
from ragserve.settings import Settings

CHUNKS = [
    {
        "id": "chunk-cranes",
        "content": "Whooping cranes migrate across North America every autumn.",
        "document_id": "doc-1",
        "document_name": "cranes.md",
        "dataset_id": "ds-1",
        "image_id": "",
        "positions": [],
        "similarity": 0.9,
    },
    {
        "id": "chunk-bread",
        "content": "Knead the dough, let it rise, then bake the bread.",
        "document_id": "doc-2",
        "document_name": "bread.md",
        "dataset_id": "ds-1",
        "image_id": "",
        "positions": [],
        "similarity": 0.5,
    },
]


@dataclass
class Environment:
    base_url: str
    tenant_id: str = "tenant-1"
    chunks: list[dict[str, Any]] = field(default_factory=lambda: list(CHUNKS))
    queries: list[RetrievalQuery] = field(default_factory=list)
    failures: int = 0
    """The next searches that fail."""
    mcp_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    attachments: dict[str, bytes] = field(default_factory=dict)
    remembered: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    """Turns kept in memories: ``(memory_ids, user_input, agent_response)``."""
    memory_queries: list[MemoryQuery] = field(default_factory=list)

    def chat_model(self, llm_id: str) -> ChatModel:
        return chat_model_for(
            llm_id or "openai/fake-chat", api_key="sk-test", api_base=self.base_url, max_retries=0
        )

    def retrieve(self, query: RetrievalQuery) -> RetrievedChunks:
        self.queries.append(query)
        if self.failures:
            self.failures -= 1
            raise ComponentError("the search failed")
        if query.dataset_ids != ("ds-1",):
            return RetrievedChunks()
        words = set(query.question.lower().split())
        found = [c for c in self.chunks if words & set(c["content"].lower().split())]
        aggs = [
            {"doc_name": c["document_name"], "doc_id": c["document_id"], "count": 1} for c in found
        ]
        return RetrievedChunks(found[: query.top_n], aggs)

    def read_attachment(self, attachment_id: str) -> bytes:
        if attachment_id not in self.attachments:
            raise DataError(f"No uploaded file has the id {attachment_id}.")
        return self.attachments[attachment_id]

    def store_attachment(self, data: bytes) -> str:
        attachment_id = f"att-{len(self.attachments) + 1}"
        self.attachments[attachment_id] = data
        return attachment_id

    def call_mcp_tool(self, mcp_id: str, tool_name: str, arguments: dict[str, Any]) -> str:
        """Server ``srv`` answers ``<tool> got <arguments as JSON>``; any other is missing."""
        self.mcp_calls.append((mcp_id, tool_name, arguments))
        if mcp_id != "srv":
            raise DataError(f"Cannot find MCP server {mcp_id} for user {self.tenant_id}")
        return f"{tool_name} got {json.dumps(arguments, sort_keys=True)}"

    def remember(self, memory_ids: tuple[str, ...], user_input: str, agent_response: str) -> None:
        self.remembered.append((memory_ids, user_input, agent_response))

    def recall(self, query: MemoryQuery) -> list[dict[str, Any]]:
        """What was remembered in those memories sharing a word with the question."""
        self.memory_queries.append(query)
        words = set(query.question.lower().split())
        return [
            {"content": f"User Input: {said}\nAgent Response: {answer}", "message_type": "raw"}
            for ids, said, answer in self.remembered
            if set(ids) & set(query.memory_ids) and words & set(said.lower().split())
        ][: query.top_n]


def echo_reply(messages: list[dict[str, Any]]) -> str:
    system = str(messages[0].get("content", "")) if messages[0].get("role") == "system" else ""
    question = str(messages[-1].get("content", ""))
    if "sort a user's message" in system:
        return "Category: bread" if "bread" in question else "Category: birds"
    if "[ID:n]" in system:
        return "Cranes migrate [ID:0] in autumn."
    if "JSON" in system:
        return '```json\n{"answer": 42}\n```'
    if "think" in question:
        return "<think>Hmm.</think>Thought it over."
    return f"Fake answer to: {question}"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=echo_reply) as server:
        yield server


@pytest.fixture
def environment(fake: FakeOpenAI) -> Environment:
    return Environment(fake.base_url)


def node(name: str, params: dict[str, Any] | None = None, downstream: list[str] | None = None,
         upstream: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "obj": {"component_name": name, "params": params or {}},
        "downstream": downstream or [],
        "upstream": upstream or [],
    }


def chain(*nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A DSL of ``(id, component_name, params)`` in a line, starting with ``begin``."""
    ids = ["begin", *(n[0] for n in nodes)]
    components = {"begin": node("Begin", {}, ids[1:2])}
    for index, (cid, name, params) in enumerate(nodes, start=1):
        components[cid] = node(name, params, ids[index + 1 : index + 2], [ids[index - 1]])
    return {"components": components}


Runner = Callable[..., tuple[list[RunEvent], Run]]


@pytest.fixture
def run(environment: Environment) -> Runner:
    def run_once(
        raw: dict[str, Any], query: str = "hello", **call: Any
    ) -> tuple[list[RunEvent], Run]:
        graph = dsl_module.load(raw)
        turn = Run(graph, environment, RunCall(query=query, **call))
        return list(turn.events()), turn

    return run_once


def said(events: list[RunEvent]) -> str:
    return "".join(e.data.get("content", "") for e in events if e.event == "message")
