"""The request layer with ``httpx.MockTransport``: retries, timeouts, what goes on the wire
and when a streamed answer's connection is released. Everything else runs against the app."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from ragserve.sdk import (
    AsyncRAGFlow,
    AsyncSession,
    DataSet,
    ErrorCode,
    RAGFlow,
    RequestTimeout,
    ResponseError,
    Retry,
    Session,
    TransportError,
)

Handler = Callable[[httpx.Request], httpx.Response]
NO_WAIT = Retry(retries=2, backoff=0)
OK = {"code": 0, "data": []}


def client(handler: Handler, retries: Retry = NO_WAIT, **options: object) -> RAGFlow:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return RAGFlow("ragflow-key", "http://ragserve", retries=retries, http_client=http, **options)  # type: ignore[arg-type]


class Recorder:
    """A handler answering from a script; it records every request it gets."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_requests_are_sent_as_ragflow_sdk_sends_them() -> None:
    handler = Recorder(httpx.Response(200, json=OK))
    rag = client(handler)
    rag.list_datasets(desc=False, name=None)
    DataSet(rag, {"id": "d1"}).delete_documents(ids=None)
    DataSet(rag, {"id": "d1"}).upload_documents(
        [{"display_name": "a.txt", "blob": b"A"}, {"display_name": "b.txt", "blob": b"B"}]
    )
    listed, deleted, uploaded = handler.requests
    assert str(listed.url) == (
        "http://ragserve/api/v1/datasets?page=1&page_size=30&orderby=create_time&desc=False"
    )
    assert listed.headers["Authorization"] == "Bearer ragflow-key"
    assert (deleted.method, json.loads(deleted.content)) == ("DELETE", {"ids": None})
    body = uploaded.read()
    assert uploaded.headers["Content-Type"].startswith("multipart/form-data")
    assert body.count(b'name="file"; filename=') == 2


def test_idempotent_requests_are_repeated_after_a_gateway_error() -> None:
    handler = Recorder(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=OK))
    assert client(handler).list_datasets() == []
    assert len(handler.requests) == 3


def test_the_last_gateway_error_is_raised_with_its_status() -> None:
    handler = Recorder(httpx.Response(504, text="<html>Gateway Timeout</html>"))
    with pytest.raises(ResponseError, match="Gateway Timeout") as caught:
        client(handler).list_datasets()
    assert caught.value.code == 504
    assert len(handler.requests) == 3  # the first and two repeats


def test_a_post_is_not_repeated_after_a_gateway_error() -> None:
    handler = Recorder(httpx.Response(503), httpx.Response(200, json=OK))
    with pytest.raises(ResponseError):
        client(handler).create_dataset("x")
    assert len(handler.requests) == 1


def test_a_post_that_could_not_connect_is_repeated() -> None:
    refused = httpx.ConnectError("Connection refused")
    handler = Recorder(refused, httpx.Response(200, json={"code": 0, "data": {"id": "d1"}}))
    assert client(handler).create_dataset("x").id == "d1"
    assert len(handler.requests) == 2


def test_a_post_cut_off_before_the_answer_is_not_repeated() -> None:
    handler = Recorder(httpx.RemoteProtocolError("Server disconnected"))
    with pytest.raises(TransportError):
        client(handler).create_dataset("x")
    assert len(handler.requests) == 1
    handler = Recorder(
        httpx.RemoteProtocolError("Server disconnected"), httpx.Response(200, json=OK)
    )
    assert client(handler).list_datasets() == []


def test_transport_failures_are_sdk_errors_with_the_cause() -> None:
    handler = Recorder(httpx.ConnectError("Connection refused"))
    with pytest.raises(TransportError, match="Connection refused") as caught:
        client(handler).list_datasets()
    assert isinstance(caught.value.__cause__, httpx.ConnectError) and caught.value.code is None
    assert len(handler.requests) == 3
    no_retries = Recorder(httpx.ConnectError("Connection refused"))
    with pytest.raises(TransportError):
        client(no_retries, retries=Retry(retries=0)).list_datasets()
    assert len(no_retries.requests) == 1


def test_a_read_timeout_is_a_request_timeout_and_not_repeated() -> None:
    handler = Recorder(httpx.ReadTimeout("timed out"))
    with pytest.raises(RequestTimeout):
        client(handler).list_datasets()
    assert len(handler.requests) == 1


def test_the_timeout_goes_with_every_request() -> None:
    handler = Recorder(httpx.Response(200, json=OK))
    client(handler, timeout=2.5).list_datasets()
    assert handler.requests[0].extensions["timeout"] == httpx.Timeout(2.5).as_dict()


def test_a_server_that_never_answers_times_out() -> None:
    """A listening socket that accepts and stays silent: the read timeout fires."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        rag = RAGFlow("k", f"http://127.0.0.1:{port}", timeout=0.2, retries=0)
        with rag, pytest.raises(RequestTimeout, match=r"^GET http://127\.0\.0\.1:\d+/api/v1/"):
            rag.list_datasets()


def test_backoff_doubles_and_follows_retry_after() -> None:
    retry = Retry(retries=5, backoff=0.5, max_delay=3)
    assert [retry.delay(attempt) for attempt in range(4)] == [0.5, 1.0, 2.0, 3]
    assert retry.delay(0, httpx.Response(503, headers={"Retry-After": "2"})) == 2
    assert retry.delay(0, httpx.Response(503, headers={"Retry-After": "60"})) == 3
    assert retry.delay(1, httpx.Response(503, headers={"Retry-After": "soon"})) == 1.0


def test_an_answer_that_is_not_an_envelope_is_a_response_error() -> None:
    handler = Recorder(httpx.Response(200, text="not json"))
    with pytest.raises(ResponseError, match="not a RAGFlow envelope") as caught:
        client(handler).list_datasets()
    assert caught.value.code == 200


def test_an_error_envelope_keeps_code_data_and_details() -> None:
    body = {"code": 102, "message": "Nope", "data": False, "details": ["x"]}
    handler = Recorder(httpx.Response(200, json=body))
    with pytest.raises(Exception, match=r"^Nope$") as caught:
        client(handler).list_datasets()
    error = caught.value
    assert (error.code, error.data, error.details) == (ErrorCode.DATA_ERROR, False, ["x"])  # type: ignore[attr-defined]


class WatchedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A streamed body of answer events that records whether it was closed."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for event in self.events:
            yield event.encode()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event.encode()

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def answer_events(*pieces: str) -> list[str]:
    events = [
        "data:" + json.dumps({"code": 0, "data": {"answer": p, "reference": {"chunks": []}}})
        for p in pieces
    ]
    return [event + "\n\n" for event in [*events, 'data:{"code": 0, "data": true}']]


def streaming(body: WatchedStream) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=body)

    return handler


def test_a_dropped_answer_stream_releases_its_connection() -> None:
    body = WatchedStream(answer_events("one ", "two ", "three"))
    session = Session(client(streaming(body)), {"id": "s1", "chat_id": "c1"})
    answers = session.ask("q", stream=True)
    assert next(answers).content == "one "
    assert not body.closed
    del answers
    gc.collect()  # CPython closes it at once; this makes it so elsewhere too
    assert body.closed


def test_an_answer_stream_is_closed_at_its_end_and_by_close() -> None:
    body = WatchedStream(answer_events("one ", "two"))
    session = Session(client(streaming(body)), {"id": "s1", "chat_id": "c1"})
    assert [m.content for m in session.ask("q", stream=True)] == ["one ", "two"]
    assert body.closed
    body = WatchedStream(answer_events("one ", "two"))
    session = Session(client(streaming(body)), {"id": "s1", "chat_id": "c1"})
    with session.ask("q", stream=True) as answers:
        next(answers)
    assert body.closed


def test_an_async_answer_stream_is_closed_by_aclose() -> None:
    body = WatchedStream(answer_events("one ", "two"))

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(streaming(body)))
        async with AsyncRAGFlow("k", "http://ragserve", http_client=http) as rag:
            session = AsyncSession(rag, {"id": "s1", "chat_id": "c1"})
            answers = session.ask("q", stream=True)
            assert (await anext(answers)).content == "one "
            assert not body.closed
            await answers.aclose()
            assert body.closed
        await http.aclose()

    asyncio.run(main())


def test_ctrl_c_during_a_request_leaves_the_sdk_a_new_client_of_its_own() -> None:
    """A Ctrl-C may land while httpcore holds its pool's lock (never released then): the request
    after it, such as cancelling a parse, must not use that pool."""

    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    rag = RAGFlow("ragflow-key", "http://ragserve", retries=NO_WAIT)
    broken = httpx.Client(transport=httpx.MockTransport(interrupted))
    rag._http.client = broken
    with pytest.raises(KeyboardInterrupt):
        rag.list_datasets()
    assert rag._http.client is not broken and not rag._http.client.is_closed
    given = client(interrupted)
    theirs = given._http.client
    with pytest.raises(KeyboardInterrupt):
        given.list_datasets()
    assert given._http.client is theirs  # a client the caller gave is theirs to replace
    broken.close()
    rag.close()
