"""Retrieval on a real server process: the official ragflow-sdk ``retrieve()`` and a client
posting exactly what Dify's external-knowledge client posts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import ragflow_sdk

from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

DOCS = {
    "lift.md": b"# Lift\n\nLift grows with the angle of attack until the wing stalls.",
    "drag.md": b"# Drag\n\nSkin friction drag depends on the boundary layer over the surface.",
    "heat.md": b"# Heat\n\nHypersonic flight heats the leading edge of the vehicle strongly.",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("retrieval") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def parsed(server: RunningServer) -> tuple[ragflow_sdk.RAGFlow, Any, dict[str, str]]:
    rag = ragflow_sdk.RAGFlow(api_key=server.api_key, base_url=server.base_url)
    dataset = rag.create_dataset(name="retrieval-e2e")
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
    documents[0].update({"meta_fields": {"topic": "aerodynamics"}})
    return rag, dataset, ids


def test_sdk_retrieve(parsed: tuple[ragflow_sdk.RAGFlow, Any, dict[str, str]]) -> None:
    rag, dataset, ids = parsed
    chunks = rag.retrieve(dataset_ids=[dataset.id], question="When does a wing stall?")
    assert chunks and chunks[0].document_id == ids["lift.md"]
    assert 0.2 <= chunks[0].similarity <= 1 and "stall" in chunks[0].content
    assert chunks[0].dataset_id == dataset.id

    only = rag.retrieve(dataset_ids=[dataset.id], document_ids=[ids["heat.md"]],
                        question="wing stall heat", similarity_threshold=0)  # fmt: skip
    assert {chunk.document_id for chunk in only} == {ids["heat.md"]}

    condition = {"logic": "and", "conditions": [
        {"name": "topic", "comparison_operator": "is", "value": "aerodynamics"}]}  # fmt: skip
    filtered = rag.retrieve(dataset_ids=[dataset.id], question="drag heat lift",
                            similarity_threshold=0, metadata_condition=condition)  # fmt: skip
    assert {chunk.document_id for chunk in filtered} == {ids["lift.md"]}

    with pytest.raises(Exception, match=r"You don't own the dataset nope\."):
        rag.retrieve(dataset_ids=["nope"], question="x")


def test_dify_client(
    server: RunningServer, parsed: tuple[ragflow_sdk.RAGFlow, Any, dict[str, str]]
) -> None:
    _, dataset, ids = parsed
    endpoint = f"{server.base_url}/api/v1/dify"  # what a user registers in Dify
    body = {
        "retrieval_setting": {"top_k": 2, "score_threshold": 0.0},
        "query": "boundary layer friction",
        "knowledge_id": dataset.id,
        "metadata_condition": None,
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {server.api_key}"}
    response = httpx.post(f"{endpoint}/retrieval", json=body, headers=headers, timeout=30)
    assert response.status_code == 200
    records = response.json().get("records", [])
    assert 1 <= len(records) <= 2
    assert records[0]["title"] == "drag.md"
    assert records[0]["metadata"] == {"doc_id": ids["drag.md"]}

    denied = httpx.post(f"{endpoint}/retrieval", json=body, headers={**headers,
                        "Authorization": "Bearer wrong"}, timeout=30)  # fmt: skip
    assert denied.status_code == 403 and denied.json()["error_code"] == 1002
