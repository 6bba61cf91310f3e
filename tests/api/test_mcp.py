"""The MCP endpoint ``/mcp`` in a real app, spoken to as plain JSON-RPC over HTTP (the e2e tests
use the ``mcp`` package's client): authentication, tenancy, and error texts that never carry
an exception's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from api.conftest import Corpus
from conftest import Account
from ragserve.api.mcp_server import INTERNAL_ERROR, ToolRunner
from ragserve.app import create_app
from ragserve.runtime import Runtime
from ragserve.services.tenancy import Caller
from ragserve.settings import Settings

HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


def rpc(client: TestClient, key: str | None, method: str, params: dict[str, Any]) -> Any:
    headers = dict(HEADERS)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = client.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def call(client: TestClient, key: str, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """``tools/call``: whether it failed, and its text."""
    answer = rpc(client, key, "tools/call", {"name": tool, "arguments": arguments})
    result = answer["result"]
    return bool(result.get("isError")), result["content"][0]["text"]


def test_tools_are_listed(client: TestClient, alice: Account) -> None:
    tools = rpc(client, alice.api_key, "tools/list", {})["result"]["tools"]
    names = {tool["name"] for tool in tools}
    assert names == {"ragserve_retrieval", "ragserve_list_datasets", "ragserve_list_documents"}
    assert all(tool["annotations"]["readOnlyHint"] for tool in tools)


def test_retrieval_and_listing(client: TestClient, alice: Account, corpus: Corpus) -> None:
    failed, text = call(
        client,
        alice.api_key,
        "ragserve_retrieval",
        {"dataset_ids": [corpus.dataset_id], "question": "turbofan engine thrust"},
    )
    assert not failed, text
    answer = json.loads(text)
    assert answer["chunks"][0]["document_id"] == corpus.documents["engines.md"]
    assert answer["pagination"] == {
        "page": 1, "page_size": 10, "total_chunks": answer["pagination"]["total_chunks"],
        "total_pages": 1,
    }  # fmt: skip
    assert answer["query_info"]["vector_weight"] == 0.3

    failed, text = call(client, alice.api_key, "ragserve_list_datasets", {"name": "retrieval"})
    assert not failed and [d["id"] for d in json.loads(text)["datasets"]] == [corpus.dataset_id]
    failed, text = call(
        client, alice.api_key, "ragserve_list_documents",
        {"dataset_id": corpus.dataset_id, "keywords": "CRANES"},
    )  # fmt: skip
    assert not failed and [d["name"] for d in json.loads(text)["docs"]] == ["cranes.md"]


def test_blank_question_finds_nothing(client: TestClient, alice: Account, corpus: Corpus) -> None:
    failed, text = call(
        client, alice.api_key, "ragserve_retrieval",
        {"dataset_ids": [corpus.dataset_id], "question": "  "},
    )  # fmt: skip
    assert not failed and json.loads(text)["chunks"] == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "`Authorization` can't be empty"),
        ({"Authorization": "Bearer nope"}, "Authentication error: API key is invalid!"),
        ({"Authorization": "nope"}, "Please check your authorization format."),
        ({"api_key": "nope"}, "Authentication error: API key is invalid!"),
    ],
)
def test_a_request_without_a_valid_key_is_refused(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = client.post("/mcp", json=body, headers={**HEADERS, **headers})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"code": 109, "message": message, "data": False}


def test_the_api_key_header_of_ragflows_mcp_server_is_taken(
    client: TestClient, alice: Account
) -> None:
    headers = {**HEADERS, "api_key": alice.api_key}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    assert client.post("/mcp", json=body, headers=headers).status_code == 200


def test_another_tenants_ids(
    client: TestClient, alice: Account, bob: Account, corpus: Corpus
) -> None:
    engines = corpus.documents["engines.md"]
    for tool, arguments, message in (
        ("ragserve_retrieval", {"dataset_ids": [corpus.dataset_id], "question": "engine"},
         "You don't own the dataset"),
        ("ragserve_list_documents", {"dataset_id": corpus.dataset_id}, "You don't own the dataset"),
        ("ragserve_list_datasets", {"name": "retrieval"}, "lacks permission for dataset 'retrieval'"),
    ):  # fmt: skip
        failed, text = call(client, bob.api_key, tool, arguments)
        assert failed and message in text, text
    failed, text = call(client, bob.api_key, "ragserve_retrieval", {"question": "engine"})
    assert failed and text.endswith("No datasets to search: this API key sees none.")
    # bob's own dataset, alice's document in it: refused
    bobs = bob.client.post(
        "/api/v1/datasets", json={"name": "bobs"}, headers=bob.api_headers
    ).json()["data"]["id"]
    failed, text = call(
        client, bob.api_key, "ragserve_retrieval",
        {"dataset_ids": [bobs], "document_ids": [engines], "question": "engine"},
    )  # fmt: skip
    assert failed and text.endswith(f"The datasets don't own the document {engines}")


def test_missing_and_invalid_arguments(client: TestClient, alice: Account, corpus: Corpus) -> None:
    failed, text = call(client, alice.api_key, "ragserve_list_documents", {"dataset_id": "x"})
    assert failed and "You don't own the dataset x" in text
    failed, text = call(client, alice.api_key, "ragserve_retrieval", {})
    assert failed and text == "Error executing tool ragserve_retrieval: question: Field required"
    failed, text = call(client, alice.api_key, "ragserve_retrieval", {"question": "q", "page": "x"})
    assert failed and text.startswith("Error executing tool ragserve_retrieval: page: Input")
    assert "pydantic" not in text and "Arguments" not in text
    failed, text = call(client, alice.api_key, "nope", {})
    assert failed and text == "Unknown tool: nope"
    failed, text = call(
        client, alice.api_key, "ragserve_retrieval",
        {"dataset_ids": [corpus.dataset_id], "question": "q", "similarity_threshold": 2},
    )  # fmt: skip
    assert failed and text.endswith("`similarity_threshold` must be between 0.0 and 1.0, got 2.0.")
    assert "Traceback" not in text


def test_an_unexpected_failure_says_no_more_than_internal_error(
    runtime: Runtime, alice: Account
) -> None:
    def work(caller: Caller) -> str:
        assert caller.tenant_id == alice.id
        raise RuntimeError("secret detail of the failure")

    async def scenario() -> None:
        await ToolRunner(runtime).run(f"Bearer {alice.api_key}", work)

    with pytest.raises(ToolError) as failure:
        anyio.run(scenario)
    assert str(failure.value) == INTERNAL_ERROR and failure.value.__cause__ is None


def test_only_post_is_served(client: TestClient, alice: Account) -> None:
    """Stateless: no event stream to GET, no session to DELETE (the MCP spec's 405)."""
    for method in ("GET", "DELETE"):
        response = client.request(method, "/mcp", headers={**HEADERS, **alice.api_headers})
        assert response.status_code == 405


def test_building_the_app_does_not_turn_logging_up_to_info(tmp_path: Path) -> None:
    """The mcp package configures logging when nothing has: at the server's level, not INFO."""
    script = (
        "import logging; from ragserve.app import create_app; from ragserve.settings import "
        f"Settings; create_app(Settings(home={str(tmp_path / 'home')!r}, workers=0, "
        "log_level='warning')); print(logging.getLevelName(logging.getLogger().level))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "WARNING"


def test_an_app_started_again_serves_mcp_again(tmp_path: Path) -> None:
    """A session manager runs once; an app whose lifespan runs twice (a test client opened
    again) still answers at /mcp."""
    app = create_app(Settings(home=tmp_path / "home", workers=0))
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post("/mcp", json={}, headers=HEADERS)
            assert response.status_code == 401, response.text
