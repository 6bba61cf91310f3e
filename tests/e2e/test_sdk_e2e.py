"""What ``ragserve.sdk`` adds to ragflow-sdk's interface, against a real server process:
parse_documents with progress and a timeout, answer streams that release their connection,
``AsyncRAGFlow``, and errors with codes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers.data import cranfield_text
from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server
from ragserve.sdk import (
    APIError,
    AsyncRAGFlow,
    AuthenticationError,
    Chat,
    DataSet,
    Document,
    ErrorCode,
    ParseTimeout,
    RAGFlow,
    RequestTimeout,
    TransportError,
)

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."
LONG = " ".join(f"Owls hunt mice and voles at night, fact number {n}." for n in range(60))


def reply(messages: list[dict[str, Any]]) -> str:
    question = str(messages[-1].get("content", "")).lower()
    return LONG if "everything" in question else FACT


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with FakeOpenAI(reply=reply) as fake:
        env = fake.server_env("sk-e2e")
        with running_server(tmp_path_factory.mktemp("sdk-extras") / "home", env) as running:
            yield running


@pytest.fixture(scope="module")
def rag(server: RunningServer) -> Iterator[RAGFlow]:
    with RAGFlow(api_key=server.api_key, base_url=server.base_url) as rag:
        yield rag


@pytest.fixture(scope="module")
def owls(rag: RAGFlow) -> DataSet:
    dataset = rag.create_dataset(name="owls")
    text = f"# Owls\n\n{FACT} They rest by day.".encode()
    [document] = dataset.upload_documents([{"display_name": "owls.md", "blob": text}])
    [(_, run, _, _)] = dataset.parse_documents([document.id], timeout=120, poll_interval=0.2)
    assert run == "DONE"
    return dataset


@pytest.fixture(scope="module")
def chat(rag: RAGFlow, owls: DataSet) -> Chat:
    return rag.create_chat("owl expert", dataset_ids=[owls.id])


def test_parse_documents_reports_each_change_until_done(rag: RAGFlow) -> None:
    dataset = rag.create_dataset(name="progress")
    text = cranfield_text(10).encode()
    [document] = dataset.upload_documents([{"display_name": "c.txt", "blob": text}])
    seen: list[tuple[str, float]] = []

    def on_progress(changed: Document) -> None:
        seen.append((changed.run, changed.progress))

    [result] = dataset.parse_documents(
        [document.id], on_progress=on_progress, timeout=120, poll_interval=0.05
    )
    assert result[:2] == (document.id, "DONE") and result[2] > 1 and result[3] > 0
    assert seen[-1] == ("DONE", 1.0)
    assert ("RUNNING", 0.0) <= seen[0] < ("RUNNING", 1.0)  # seen while it ran
    assert len(seen) == len(set(seen))  # once per change


def one_connection(server: RunningServer) -> tuple[RAGFlow, httpx.Client]:
    """A client whose pool holds one connection and waits at most 2 s for it: a streamed
    answer left open makes the next request time out."""
    http = httpx.Client(limits=httpx.Limits(max_connections=1))
    timeout = httpx.Timeout(30, pool=2)
    return RAGFlow(server.api_key, server.base_url, http_client=http, timeout=timeout), http


def test_an_answer_stream_dropped_early_releases_its_connection(
    server: RunningServer, chat: Chat
) -> None:
    rag, http = one_connection(server)
    with http:
        session = rag.list_chats(id=chat.id)[0].create_session()

        answers = session.ask("Tell me everything about owls", stream=True)
        first = next(answers)
        assert LONG.startswith(first.content) and len(first.content) < len(LONG)
        with pytest.raises(RequestTimeout):  # the open stream holds the only connection
            rag.list_datasets()
        answers.close()
        assert [d.name for d in rag.list_datasets(name="owls")] == ["owls"]

        answers = session.ask("Tell me everything about owls again", stream=True)
        next(answers)
        del answers  # dropped unfinished
        assert [d.name for d in rag.list_datasets(name="owls")] == ["owls"]

        with session.ask("And everything else?", stream=True) as answers:
            next(answers)
        assert [d.name for d in rag.list_datasets(name="owls")] == ["owls"]


def test_async_client_lists_creates_retrieves_and_asks(server: RunningServer) -> None:
    async def scenario() -> None:
        async with AsyncRAGFlow(server.api_key, server.base_url) as rag:
            [owls] = await rag.list_datasets(name="owls")
            created = await rag.create_dataset("async-made", description="from asyncio")
            assert created.description == "from asyncio"
            chunks = await rag.retrieve([owls.id], question="When do owls hunt?")
            assert chunks and "hunt at night" in chunks[0].content
            [chat] = await rag.list_chats(name="owl expert")
            session = await chat.create_session("async")
            [message] = [m async for m in session.ask("How do owls hunt?")]
            assert message.content.startswith(FACT) and message.reference
            pieces = [m.content async for m in session.ask("Owls, again?", stream=True)]
            assert "".join(pieces) == FACT
            async with session.ask("Tell me everything about owls", stream=True) as answers:
                assert LONG.startswith((await anext(answers)).content)
            questions = [
                rag.retrieve([owls.id], question=q) for q in ("owls", "night", "day", "barn")
            ]
            assert all(await asyncio.gather(*questions))  # concurrent over one client
            await rag.delete_datasets([created.id])

    asyncio.run(scenario())


def test_errors_carry_the_servers_code(server: RunningServer, rag: RAGFlow) -> None:
    with (
        RAGFlow("ragflow-not-a-key", server.base_url) as stranger,
        pytest.raises(AuthenticationError) as denied,
    ):
        stranger.list_datasets()
    assert denied.value.code == ErrorCode.AUTHENTICATION_ERROR
    assert str(denied.value) == "Authentication error: API key is invalid!"

    with pytest.raises(APIError) as refused:
        rag.create_dataset("owls").update({"name": "owls"})
    assert refused.value.code == ErrorCode.DATA_ERROR
    assert refused.value.message == "Dataset name 'owls' already exists"
    rag.delete_datasets([d.id for d in rag.list_datasets(name="owls(1)")])

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        RAGFlow(server.api_key, f"http://127.0.0.1:{port}", retries=1) as nowhere,
        pytest.raises(TransportError) as unreachable,
    ):
        nowhere.list_datasets()
    assert isinstance(unreachable.value.__cause__, httpx.ConnectError)


def test_parse_documents_timeout_cancels_the_unfinished(rag: RAGFlow) -> None:
    """Last in the module: the worker may stay busy a moment after the cancel."""
    dataset = rag.create_dataset(name="too-big")
    text = cranfield_text(300)  # a minute of work or more.encode()
    [big] = dataset.upload_documents([{"display_name": "big.txt", "blob": text}])
    started = time.monotonic()
    with pytest.raises(ParseTimeout) as caught:
        dataset.parse_documents([big.id], timeout=1, poll_interval=0.2)
    assert time.monotonic() - started < 10
    assert caught.value.pending == [big.id] and caught.value.finished == []
    assert caught.value.code is None and "within 1 s" in caught.value.message
    [after] = dataset.list_documents(id=big.id)
    assert (after.run, after.chunk_count) == ("CANCEL", 0)
