"""ragserve as an MCP server (issue 17, 6a), driven by the ``mcp`` package's own client: over
streamable HTTP at ``/mcp`` of a real server process, and over stdio through ``ragserve mcp``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
import ragflow_sdk
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from helpers.server import RunningServer, ragserve, running_server

pytestmark = pytest.mark.e2e

DOCS = {
    "lift.md": b"# Lift\n\nLift grows with the angle of attack until the wing stalls.",
    "heat.md": b"# Heat\n\nHypersonic flight heats the leading edge of the vehicle strongly.",
}
TOOLS = {"ragserve_retrieval", "ragserve_list_datasets", "ragserve_list_documents"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("mcp") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def parsed(server: RunningServer) -> tuple[str, dict[str, str]]:
    """A parsed dataset of the server's user: its id and its documents' ids by name."""
    rag = ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)
    dataset = rag.create_dataset(name="mcp-e2e")
    documents = dataset.upload_documents([{"display_name": n, "blob": b} for n, b in DOCS.items()])
    ids = {document.name: document.id for document in documents}
    dataset.async_parse_documents(list(ids.values()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = {document.run for document in dataset.list_documents()}
        if runs == {"DONE"}:
            break
        assert "FAIL" not in runs
        time.sleep(0.3)
    else:
        raise AssertionError("parsing did not finish")
    return dataset.id, ids


@pytest.fixture(scope="module")
def other_key(server: RunningServer) -> str:
    """An API key of a second tenant, which owns a dataset of its own."""
    email = "other@example.com"
    done = ragserve("user", "create", "--email", email, "--password", "other-pass", env=server.env)
    assert done.returncode == 0, done.stderr
    done = ragserve("token", "create", "--email", email, env=server.env)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    ragflow_sdk.RAGFlow(api_key=key, base_url=server.base_url).create_dataset(name="other-set")
    return key


def _text(result: CallToolResult) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


def _json(result: CallToolResult) -> Any:
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


async def _over_http(url: str, key: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Initialize a session over streamable HTTP, list the tools, then make the calls."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        results: list[Any] = [tools]
        for name, arguments in calls:
            results.append(await session.call_tool(name, arguments))
        return results


def test_http_lists_tools_and_retrieves_chunks(
    server: RunningServer, parsed: tuple[str, dict[str, str]]
) -> None:
    dataset_id, ids = parsed
    calls = [
        ("ragserve_retrieval", {"dataset_ids": [dataset_id], "question": "When does a wing stall?"}),
        ("ragserve_retrieval", {"question": "When does a wing stall?"}),  # all datasets
        ("ragserve_retrieval", {"dataset_ids": [dataset_id], "document_ids": [ids["heat.md"]],
                                "question": "wing stall heat", "similarity_threshold": 0}),
        ("ragserve_list_datasets", {}),
        ("ragserve_list_documents", {"dataset_id": dataset_id}),
    ]  # fmt: skip
    tools, found, everywhere, only_heat, listed, docs = asyncio.run(
        _over_http(server.base_url + "/mcp", server.api_key, calls)
    )
    by_name = {tool.name: tool for tool in tools.tools}
    assert set(by_name) == TOOLS
    schema = by_name["ragserve_retrieval"].input_schema
    assert schema["required"] == ["question"]
    for option in (
        "dataset_ids",
        "document_ids",
        "page",
        "page_size",
        "similarity_threshold",
        "vector_similarity_weight",
        "keyword",
        "top_k",
        "rerank_id",
        "force_refresh",
    ):
        assert option in schema["properties"], option  # fmt: skip

    answer = _json(found)
    top = answer["chunks"][0]
    assert top["document_id"] == ids["lift.md"] and "stall" in top["content"]
    assert top["dataset_id"] == dataset_id and 0.2 <= top["similarity"] <= 1
    assert answer["pagination"]["page"] == 1 and answer["pagination"]["total_chunks"] >= 1
    assert answer["query_info"]["question"] == "When does a wing stall?"
    assert answer["query_info"]["dataset_count"] == 1
    assert _json(everywhere)["chunks"][0]["id"] == top["id"]
    assert {chunk["document_id"] for chunk in _json(only_heat)["chunks"]} == {ids["heat.md"]}

    datasets = _json(listed)
    assert [d["id"] for d in datasets["datasets"]] == [dataset_id] and datasets["total"] == 1
    assert {d["name"] for d in _json(docs)["docs"]} == set(DOCS)


def test_http_refuses_a_missing_or_bad_key(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers, message in (
        ({}, "`Authorization` can't be empty"),
        ({"Authorization": "Bearer not-a-key"}, "Authentication error: API key is invalid!"),
    ):
        answer = httpx.post(server.base_url + "/mcp", json=body, headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["message"] == message

    # the mcp client's session never starts: initialize fails on the 401
    with pytest.raises(ExceptionGroup) as refused:
        asyncio.run(_over_http(server.base_url + "/mcp", "not-a-key", []))
    assert refused.group_contains(MCPError, depth=2)


def test_http_another_tenants_datasets_are_invisible(
    server: RunningServer, parsed: tuple[str, dict[str, str]], other_key: str
) -> None:
    dataset_id, ids = parsed
    calls = [
        ("ragserve_retrieval", {"dataset_ids": [dataset_id], "question": "wing stall"}),
        ("ragserve_retrieval", {"dataset_ids": [dataset_id], "document_ids": [ids["lift.md"]],
                                "question": "wing stall"}),
        ("ragserve_list_documents", {"dataset_id": dataset_id}),
        ("ragserve_list_datasets", {}),
        ("ragserve_retrieval", {"question": "wing stall"}),  # all of its datasets: its own only
        ("ragserve_retrieval", {"dataset_ids": [dataset_id], "question": "x", "page_size": 0}),
    ]  # fmt: skip
    _, refused, refused_doc, refused_docs, listed, own, invalid = asyncio.run(
        _over_http(server.base_url + "/mcp", other_key, calls)
    )
    for result in (refused, refused_doc):
        # the mcp package puts "Error executing tool <name>: " before the service's text
        assert result.is_error
        assert _text(result).endswith(f": You don't own the dataset {dataset_id}.")
    assert refused_docs.is_error and dataset_id in _text(refused_docs)
    assert [d["name"] for d in _json(listed)["datasets"]] == ["other-set"]
    assert _json(own)["chunks"] == []
    assert invalid.is_error and "page_size" in _text(invalid)
    assert "Traceback" not in server.log


def test_stdio_command(server: RunningServer, parsed: tuple[str, dict[str, str]]) -> None:
    dataset_id, ids = parsed
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ragserve", "mcp", "--home", str(server.home)],
        env={**server.env, "RAGSERVE_API_KEY": server.api_key},
    )

    async def scenario() -> tuple[Any, CallToolResult, CallToolResult]:
        async with (
            stdio_client(parameters) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            found = await session.call_tool(
                "ragserve_retrieval", {"dataset_ids": [dataset_id], "question": "wing stall"}
            )
            refused = await session.call_tool("ragserve_list_documents", {"dataset_id": "0" * 32})
            return tools, found, refused

    tools, found, refused = asyncio.run(scenario())
    assert {tool.name for tool in tools.tools} == TOOLS
    assert _json(found)["chunks"][0]["document_id"] == ids["lift.md"]
    assert refused.is_error and "You don't own the dataset" in _text(refused)


def test_stdio_command_refuses_a_bad_key(server: RunningServer) -> None:
    done = ragserve("mcp", "--api-key", "not-a-key", env=server.env)
    assert done.returncode == 1
    assert "Authentication error: API key is invalid!" in done.stderr
    done = ragserve("mcp", env=server.env)
    assert done.returncode == 2 and "no API key" in done.stderr
