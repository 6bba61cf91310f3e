"""``Session``: a conversation with a chat assistant or an agent, and its answers as
``Message`` streams.

``Session.ask`` returns an iterator of messages, whether the answer is streamed or not (one
message then), as ragflow-sdk's generator does. The request is sent at the first ``next()``.
The connection is released when the answer ends, when the iterator is closed (``close()``,
a ``with`` block) and when it is dropped unfinished.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ragserve.sdk._exceptions import RAGServeError, api_error
from ragserve.sdk._http import data_of
from ragserve.sdk._model import Base, default

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["AsyncMessageStream", "AsyncSession", "Message", "MessageStream", "Session"]

_DONE: Any = object()


class Message(Base):
    """A piece of an answer (streamed) or the whole answer. ``reference`` lists the chunks
    the answer quotes, as dicts; ``id`` is the answer's id in the session. An agent's
    reference is a dict of chunks by the number its answer cites (``[ID:n]``)."""

    content: str = "Hi! I am your assistant, can I help you?"
    reference: list[dict[str, Any]] | dict[str, dict[str, Any]] | None = None
    role: str = "assistant"
    prompt: str | None = None
    id: str | None = None

    def _merge(self, values: Mapping[str, Any]) -> None:
        """As ``Base``, but the reference stays plain dicts (an agent's is keyed by number)."""
        rest = {key: value for key, value in values.items() if key != "reference"}
        super()._merge(rest)
        if "reference" in values:
            self.reference = values["reference"]


def message_of(rag: Any, data: Mapping[str, Any]) -> Message:
    """The message of an answer's ``data`` (``answer``, ``reference``, ``id``, ``prompt``)."""
    values: dict[str, Any] = {"content": data.get("answer", ""), "role": "assistant"}
    reference = data.get("reference")
    if isinstance(reference, Mapping) and "chunks" in reference:
        values["reference"] = reference["chunks"]
    values.update({key: data[key] for key in ("id", "prompt") if data.get(key) is not None})
    return Message(rag, values)


def event_of(line: str) -> Any:
    """The JSON payload of one server-sent event line; ``None`` for lines without one,
    ``_DONE`` for ``[DONE]``."""
    line = line.strip()
    if line.startswith("data:"):
        line = line[len("data:") :].strip()
        if line == "[DONE]":
            return _DONE
    if not line:
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def streamed_message(rag: Any, payload: Any) -> Message | None:
    """The message of one streamed event; ``None`` when the event ends the answer.

    :raises APIError: the event reports an error (the model failed midway).
    """
    if payload is _DONE or not isinstance(payload, Mapping):
        return None
    if payload.get("code", 0) != 0:
        raise api_error(dict(payload))
    data = payload.get("data")
    if data is True:
        return None
    if not isinstance(data, Mapping):
        raise RAGServeError(f"An answer event without data: {payload!r}")
    return message_of(rag, data)


def agent_message_of(rag: Any, data: Mapping[str, Any]) -> Message:
    """The message of an agent's non-streamed answer (its ``workflow_finished`` event)."""
    inner = data.get("data")
    inner = inner if isinstance(inner, Mapping) else {}
    values: dict[str, Any] = {"content": inner.get("content") or "", "role": "assistant"}
    reference = inner.get("reference")
    if isinstance(reference, Mapping) and reference.get("chunks"):
        values["reference"] = dict(reference["chunks"])
    if data.get("message_id"):
        values["id"] = data["message_id"]
    return Message(rag, values)


def agent_streamed_message(rag: Any, payload: Any) -> Message | None:
    """The message of one streamed agent event: a ``message`` event's text, or the reference
    of a ``message_end`` that has one; ``None`` for the other events (``node_finished``, the
    reasoning markers), which ragflow-sdk cannot read (see docs/compatibility.md).

    :raises APIError: the event is an error envelope.
    """
    if not isinstance(payload, Mapping):
        return None
    if payload.get("code", 0) != 0:
        raise api_error(dict(payload))
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return None
    event = payload.get("event")
    values: dict[str, Any] = {"role": "assistant", "id": payload.get("message_id")}
    if event == "message":
        content = data.get("content")
        if not isinstance(content, str) or not content:
            return None
        return Message(rag, {**values, "content": content})
    if event == "message_end":
        reference = data.get("reference")
        if isinstance(reference, Mapping) and reference.get("chunks"):
            return Message(rag, {**values, "content": "", "reference": dict(reference["chunks"])})
    return None


def is_event_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith("text/event-stream")


class _SessionFields(Base):
    """ragflow-sdk's attributes; every other key the server sends is kept too."""

    id: str | None = None
    name: str = "New session"
    messages: list[dict[str, Any]] = default(
        [{"role": "assistant", "content": "Hi! I am your assistant, can I help you?"}]
    )
    chat_id: str | None = None
    agent_id: str | None = None

    @property
    def _of_agent(self) -> bool:
        return bool(self.agent_id) and not self.chat_id

    def _question(self, question: str, stream: bool, kwargs: dict[str, Any]) -> tuple[str, Any]:
        """The completion request's path and body."""
        body = {"question": question, "stream": stream, "session_id": self.id, **kwargs}
        if self._of_agent:
            return f"/agents/{self.agent_id}/completions", body
        if not self.chat_id:
            raise RAGServeError("This session belongs to no chat assistant and no agent.")
        return f"/chats/{self.chat_id}/completions", body

    def _message(self, data: Any) -> Message:
        """The message of a non-streamed answer's ``data``."""
        if self._of_agent:
            return agent_message_of(self.rag, data if isinstance(data, Mapping) else {})
        return message_of(self.rag, data)

    def _streamed(self, payload: Any) -> Message | bool | None:
        """A streamed event's message; ``None`` to skip the event, ``False`` at the end."""
        if payload is _DONE:
            return False
        if self._of_agent:
            return agent_streamed_message(self.rag, payload)
        message = streamed_message(self.rag, payload)
        return False if message is None else message

    @property
    def _path(self) -> str:
        return f"/chats/{self.chat_id}/sessions/{self.id}"


class MessageStream(Iterator[Message]):
    """The messages of an answer. Iterate it; ``close()`` it (or use ``with``) to stop
    early and release the connection, which also happens when it is dropped."""

    def __init__(self, messages: Generator[Message, None, None]) -> None:
        self._messages = messages

    def __next__(self) -> Message:
        return next(self._messages)

    def close(self) -> None:
        self._messages.close()

    def __enter__(self) -> MessageStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncMessageStream(AsyncIterator[Message]):
    """``MessageStream`` for ``async for``; ``aclose()`` or ``async with`` stop it early."""

    def __init__(self, messages: AsyncGenerator[Message, None]) -> None:
        self._messages = messages

    async def __anext__(self) -> Message:
        return await anext(self._messages)

    async def aclose(self) -> None:
        await self._messages.aclose()

    async def __aenter__(self) -> AsyncMessageStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Session(_SessionFields):
    rag: RAGFlow

    def ask(self, question: str = "", stream: bool = False, **kwargs: Any) -> MessageStream:
        """Asks the assistant; the other keyword arguments go into the request (``quote``,
        ``doc_ids``, ``metadata_condition``, the prompt's variables...).

        :returns: the answer as messages: pieces of it if ``stream``, else one message.
        :raises APIError: while iterating, when the server refuses or the model fails.
        """
        return MessageStream(self._answer(question, stream, kwargs))

    def _answer(
        self, question: str, stream: bool, kwargs: dict[str, Any]
    ) -> Generator[Message, None, None]:
        path, body = self._question(question, stream, kwargs)
        response = self.rag._http.send("POST", path, json=body, stream=True)
        try:
            if not is_event_stream(response):
                response.read()
                yield self._message(data_of(response))
                return
            for line in response.iter_lines():
                payload = event_of(line)
                if payload is None:
                    continue
                message = self._streamed(payload)
                if message is False:
                    return
                if isinstance(message, Message):
                    yield message
        finally:
            response.close()

    def update(self, update_message: dict[str, Any]) -> None:
        """Renames the session (``{"name": ...}``)."""
        self.rag._http.call("PUT", self._path, json=update_message)


class AsyncSession(_SessionFields):
    """``Session`` of ``AsyncRAGFlow``: ``ask`` returns an ``AsyncMessageStream``."""

    rag: AsyncRAGFlow

    def ask(self, question: str = "", stream: bool = False, **kwargs: Any) -> AsyncMessageStream:
        """See ``Session.ask``; iterate the answer with ``async for``."""
        return AsyncMessageStream(self._answer(question, stream, kwargs))

    async def _answer(
        self, question: str, stream: bool, kwargs: dict[str, Any]
    ) -> AsyncGenerator[Message, None]:
        path, body = self._question(question, stream, kwargs)
        response = await self.rag._http.send("POST", path, json=body, stream=True)
        try:
            if not is_event_stream(response):
                await response.aread()
                yield self._message(data_of(response))
                return
            async for line in response.aiter_lines():
                payload = event_of(line)
                if payload is None:
                    continue
                message = self._streamed(payload)
                if message is False:
                    return
                if isinstance(message, Message):
                    yield message
        finally:
            await response.aclose()

    async def update(self, update_message: dict[str, Any]) -> None:
        await self.rag._http.call("PUT", self._path, json=update_message)
