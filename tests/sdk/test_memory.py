"""The SDK's memory surface (ragflow-sdk's repository methods, not in its PyPI release):
``create_memory`` … ``get_recent_messages`` and ``Memory``'s methods, sync and async, against
the in-process app; extraction runs inline and the fake model answers it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import Account
from helpers.fake_openai import FAKE_CHAT_MODEL, FakeOpenAI
from ragserve.sdk import APIError, AsyncMemory, AsyncRAGFlow, Memory, RAGFlow
from sdk.conftest import BASE_URL

EMBEDDING = "openai/fake-embedding"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:  # the default answers, memory extraction among them
        yield server


def test_memory_methods(rag: RAGFlow) -> None:
    memory = rag.create_memory("trips", ["raw", "semantic"], EMBEDDING, FAKE_CHAT_MODEL)
    assert isinstance(memory, Memory) and memory.memory_type == ["raw", "semantic"]
    assert repr(memory) == f"Memory(id={memory.id!r}, name='trips')"
    listed = rag.list_memory(keywords="trip")
    assert listed["total_count"] == 1 and [m.id for m in listed["memory_list"]] == [memory.id]
    assert memory.update({"temperature": 0.2}).temperature == 0.2
    assert memory.get_config().owner_name == "alice"

    said = rag.add_message([memory.id], "a1", "s1", "we fly to Lisbon in May", "Lovely.")
    assert said == "All add to task."
    rag.add_message([memory.id], "a2", "s2", "the cat needs feeding", "Sure.")
    page = memory.list_memory_messages(agent_id=["a1"])
    [turn] = page["messages"]["message_list"]
    assert [i["content"] for i in turn["extract"]] == ["semantic: we fly to Lisbon in May"]
    found = rag.search_message("Lisbon May", [memory.id], keywords_similarity_weight=1.0)
    assert found and all("Lisbon" in f["content"] for f in found)
    assert [m["agent_id"] for m in rag.get_recent_messages([memory.id], limit=1)] == ["a2"]
    number = turn["message_id"]
    assert memory.get_message_content(number)["content"] == turn["content"]
    assert memory.update_message_status(number, False) is True
    assert rag.search_message("Lisbon", [memory.id], "a1", similarity_threshold=0.0) == []
    assert memory.forget_message(number) is True

    with pytest.raises(APIError, match=r"^Memory type '\{'x'\}' is not supported\.$"):
        rag.create_memory("bad", ["x"], EMBEDDING, FAKE_CHAT_MODEL)
    rag.delete_memory(memory.id)
    with pytest.raises(APIError, match="not found"):
        memory.get_config()
    with pytest.raises(APIError, match=r"^memory_ids is required\.$"):
        rag.get_recent_messages([])


def test_async_memory_methods(client: TestClient, alice: Account) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with (
            httpx.AsyncClient(transport=transport) as http,
            AsyncRAGFlow(alice.api_key, BASE_URL, http_client=http) as rag,
        ):
            memory = await rag.create_memory("notes", ["raw"], EMBEDDING, FAKE_CHAT_MODEL)
            assert isinstance(memory, AsyncMemory)
            assert (await rag.list_memory())["total_count"] == 1
            await memory.update({"description": "mine"})
            assert (await memory.get_config()).description == "mine"
            await rag.add_message([memory.id], "a1", "s1", "my dog is Rex", "Nice.")
            [turn] = await rag.get_recent_messages([memory.id])
            found = await rag.search_message("dog Rex", [memory.id], keywords_similarity_weight=1.0)
            assert [f["message_id"] for f in found] == [turn["message_id"]]
            page = await memory.list_memory_messages()
            assert page["messages"]["total_count"] == 1
            number = turn["message_id"]
            assert (await memory.get_message_content(number))["content"] == turn["content"]
            assert await memory.update_message_status(number, True)
            assert await memory.forget_message(number)
            await rag.delete_memory(memory.id)
            assert (await rag.list_memory())["total_count"] == 0

    asyncio.run(main())


def test_async_memory_matches_the_sync_one() -> None:
    def methods(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
        }

    assert methods(AsyncMemory) == methods(Memory)
