"""``AsyncRAGFlow`` against the in-process app through ``httpx.ASGITransport``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import Account
from ragserve.sdk import (
    APIError,
    AsyncAgent,
    AsyncChat,
    AsyncChunk,
    AsyncDataSet,
    AsyncDocument,
    AsyncMessageStream,
    AsyncRAGFlow,
    AsyncSession,
    AuthenticationError,
    ChunkUpdateError,
)
from sdk.conftest import BASE_URL, FACT, OWLS
from sdk.test_agent import tool_dsl

Scenario = Callable[[AsyncRAGFlow], Awaitable[None]]


@pytest.fixture
def run(client: TestClient, alice: Account) -> Callable[[Scenario], None]:
    """Runs a scenario with an ``AsyncRAGFlow`` of alice's."""

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            transport = httpx.ASGITransport(app=client.app)
            async with (
                httpx.AsyncClient(transport=transport) as http,
                AsyncRAGFlow(alice.api_key, BASE_URL, http_client=http) as rag,
            ):
                await scenario(rag)

        asyncio.run(main())

    return runner


async def parsed_dataset(rag: AsyncRAGFlow) -> AsyncDataSet:
    dataset = await rag.create_dataset("owls")
    [doc] = await dataset.upload_documents([{"display_name": "owls.md", "blob": OWLS.encode()}])
    seen: list[str] = []
    results = await dataset.parse_documents([doc.id], on_progress=lambda d: seen.append(d.run))
    assert results == [(doc.id, "DONE", 1, results[0][3])] and seen == ["DONE"]
    return dataset


def test_datasets_documents_and_chunks(run: Callable[[Scenario], None]) -> None:
    async def scenario(rag: AsyncRAGFlow) -> None:
        dataset = await parsed_dataset(rag)
        assert isinstance(dataset, AsyncDataSet)
        assert [d.id for d in await rag.list_datasets()] == [dataset.id]
        assert (await rag.get_dataset("OWLS")).id == dataset.id
        assert (await dataset.update({"description": "Birds"})).description == "Birds"

        [document] = await dataset.list_documents()
        assert isinstance(document, AsyncDocument) and await document.download() == OWLS.encode()
        await document.update({"name": "barn-owls.md"})
        assert document.name == "barn-owls.md"
        added = await document.add_chunk("Owls swallow prey whole.")
        assert isinstance(added, AsyncChunk)
        await added.update({"available": False})
        with pytest.raises(ChunkUpdateError):
            await added.update({"content": 42})
        assert len(await document.list_chunks()) == 2
        await document.delete_chunks([added.id])
        assert len(await document.list_chunks()) == 1

        [chunk] = await rag.retrieve([dataset.id], question="How do owls hunt?")
        assert isinstance(chunk, AsyncChunk) and "hunt at night" in chunk.content

        with pytest.raises(APIError, match="Can't stop parsing document with progress at 0 or 1"):
            await dataset.async_cancel_parse_documents([document.id])
        await dataset.delete_documents()
        assert await dataset.list_documents() == []
        await rag.delete_datasets([dataset.id])
        with pytest.raises(APIError, match="lacks permission"):
            await rag.get_dataset("owls")

    run(scenario)


def test_chats_sessions_and_answers(run: Callable[[Scenario], None]) -> None:
    async def scenario(rag: AsyncRAGFlow) -> None:
        dataset = await parsed_dataset(rag)
        chat = await rag.create_chat("owl expert", dataset_ids=[dataset.id])
        assert isinstance(chat, AsyncChat)
        assert [c.id for c in await rag.list_chats()] == [chat.id]
        await chat.update({"name": "renamed"})
        session = await chat.create_session("questions")
        assert isinstance(session, AsyncSession) and session.chat_id == chat.id
        await session.update({"name": "owl questions"})
        assert [s.name for s in await chat.list_sessions()] == ["owl questions"]

        answers = session.ask("How do owls hunt?")
        assert isinstance(answers, AsyncMessageStream)
        [message] = [m async for m in answers]
        assert message.content.startswith(FACT) and message.reference

        async with session.ask("And at night, the owls?", stream=True) as stream:
            pieces = [m.content async for m in stream]
        assert "".join(pieces) == FACT

        await chat.delete_sessions()
        assert await chat.list_sessions() == []
        await rag.delete_chats([chat.id])
        assert await rag.list_chats() == []

    run(scenario)


def test_agents_sessions_and_answers(run: Callable[[Scenario], None]) -> None:
    async def scenario(rag: AsyncRAGFlow) -> None:
        dataset = await parsed_dataset(rag)
        assert await rag.create_agent("owl agent", tool_dsl(dataset.id)) is None
        [agent] = await rag.list_agents(title="owl agent")
        assert isinstance(agent, AsyncAgent)
        await rag.update_agent(agent.id, description="Owls.")
        assert [a.description for a in await rag.list_agents()] == ["Owls."]
        session = await agent.create_session()
        assert isinstance(session, AsyncSession) and session.agent_id == agent.id
        assert [s.id for s in await agent.list_sessions()] == [session.id]

        [message] = [m async for m in session.ask("How do barn owls hunt?")]
        assert "[ID:" in message.content and isinstance(message.reference, dict)
        async with session.ask("And by day?", stream=True) as stream:
            messages = [m async for m in stream]
        assert "[ID:" in "".join(m.content for m in messages)
        assert isinstance(messages[-1].reference, dict)

        await agent.delete_sessions([session.id])
        assert await agent.list_sessions() == []
        await rag.delete_agent(agent.id)
        with pytest.raises(APIError):
            await rag.delete_agent(agent.id)

    run(scenario)


def test_a_wrong_key_is_an_authentication_error(client: TestClient) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport) as http:
            rag = AsyncRAGFlow("ragflow-wrong", BASE_URL, http_client=http)
            with pytest.raises(AuthenticationError, match="API key is invalid"):
                await rag.list_datasets()

    asyncio.run(main())
