"""A question and its answer in a session of a chat assistant (``POST /chats/{id}/completions``,
spec 2.7 and stream format 4.1).

Without a session, ``open_session`` opens one and answers its opener. In a session,
``start_turn`` reads the conversation so far and returns a ``ChatTurn``: its answer collected
(``collect``) or streamed as RAGFlow streams it (``events``), and stored in the session when
it ends, or, after a failure, what was said until then.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

from ragserve.db.models import ChatSession
from ragserve.errors import DataError, RagserveError
from ragserve.models.speech import LiteLLMSpeech
from ragserve.runtime import Runtime
from ragserve.schemas.chats import CreateSession
from ragserve.schemas.completions import (
    ChatReference,
    CompletionAnswer,
    CompletionRequest,
    StreamEvent,
)
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import speech
from ragserve.services.chat_sessions import new_session
from ragserve.services.completions import Assistant, Request, answer
from ragserve.services.tenancy import Caller
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)

DELTA_TOKENS = 16
"""Streamed text is sent in pieces of at least this many tokens (the last may be shorter), except
the first piece, which goes out at once: with a real model 16 tokens take a few hundred ms."""


def open_session(
    runtime: Runtime, caller: Caller, chat_id: str, body: CompletionRequest
) -> CompletionAnswer:
    """A new session of the chat (as ``POST .../sessions`` makes it, named by ``body.name``):
    the answer is its opener."""
    request = CreateSession(name=body.name or "New session", user_id=body.user_id or "")
    with runtime.transaction() as session:
        row = new_session(session, caller, chat_id, request)
        return CompletionAnswer(
            answer=row.messages[0]["content"], reference={}, id=None, session_id=row.id
        )


def opening_events(opening: CompletionAnswer) -> list[StreamEvent]:
    """The opener as a stream: one event, then ``data: true`` (both with an empty message)."""
    return [StreamEvent(message="", data=opening), StreamEvent(message="", data=True)]


def start_turn(
    runtime: Runtime, assistant: Assistant, session_id: str, body: CompletionRequest
) -> ChatTurn:
    """The question of ``body`` in the session, after the conversation so far; raises if the
    session is not the chat's."""
    history = conversation(runtime, assistant, session_id)
    question = body.question or ""
    request = Request(
        messages=[*history, {"role": "user", "content": question}],
        quote=body.quote,
        document_ids=body.document_ids,
        extra_dataset_ids=tuple(body.kb_ids or ()),
        metadata_condition=parse_metadata_condition(body.metadata_condition),
        values=body.variables,
        reasoning=None if body.reasoning is None else _truthy(body.reasoning),
    )
    return ChatTurn(runtime, assistant, request, session_id, question)


def _truthy(value: object) -> bool:
    """A JSON flag as clients send it: true, 1, "true"/"1"/"yes" (any case)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


CITATION = re.compile(r"\[ID:\d+\]")


def _speaker(runtime: Runtime, assistant: Assistant) -> LiteLLMSpeech | None:
    """The tenant's TTS model when the chat has ``tts`` on and the tenant set a usable one."""
    if not _truthy(assistant.prompt_config.get("tts", False)):
        return None
    try:
        return speech.tts_model(runtime, assistant.tenant_id)
    except RagserveError:
        return None


def conversation(runtime: Runtime, assistant: Assistant, session_id: str) -> list[dict[str, str]]:
    """The session's messages as ``{"role", "content"}``; raises if it is not the chat's."""
    with runtime.read() as session:
        row = session.get(ChatSession, session_id)
        if row is None or row.chat_id != assistant.id:
            raise DataError(f"You don't own the session {session_id}")
        return [
            {"role": str(m.get("role")), "content": str(m.get("content", ""))}
            for m in row.messages or []
            if m.get("role") in ("user", "assistant")
        ]


def record_exchange(
    runtime: Runtime,
    session_id: str,
    message_id: str,
    question: str,
    answer_text: str,
    reference: ChatReference,
) -> None:
    """Append the question and the answer (with its reference) to the session."""
    now = time.time()
    with runtime.transaction() as session:
        row = session.get(ChatSession, session_id)
        if row is None:
            return
        row.messages = [
            *(row.messages or []),
            {"role": "user", "content": question, "id": message_id, "created_at": now},
            {"role": "assistant", "content": answer_text, "id": message_id, "created_at": now},
        ]
        stored = cast(dict[str, Any], reference)
        row.answer_references = [*(row.answer_references or []), stored]


class ChatTurn:
    """One question and answer in a session, streamed or collected, stored when it ends."""

    def __init__(
        self,
        runtime: Runtime,
        assistant: Assistant,
        request: Request,
        session_id: str,
        question: str,
    ) -> None:
        self.runtime = runtime
        self.assistant = assistant
        self.request = request
        self.session_id = session_id
        self.message_id = str(uuid.uuid4())
        self.question = question
        self.has_datasets = bool(  # web search counts: its pages are the reference
            assistant.dataset_ids
            or request.extra_dataset_ids
            or assistant.prompt_config.get("tavily_api_key")
        )
        self._stored = False
        self._pending = ""
        self._pending_tokens = 0
        self._thinking = False
        self.speaker = _speaker(runtime, assistant)

    def _answer(self, text: str, reference: ChatReference, **extra: Any) -> CompletionAnswer:
        return CompletionAnswer(
            answer=text,
            reference=reference,
            **extra,
            id=self.message_id,
            session_id=self.session_id,
        )

    def collect(self) -> CompletionAnswer:
        """The whole answer, with citations; a failure is raised, after storing the question
        with what was said."""
        said: list[str] = []
        try:
            for event in answer(self.runtime, self.assistant, self.request):
                if event.kind == "text":
                    said.append(event.text)
                elif event.final is not None:
                    final = event.final
                    self._store(final.answer, final.reference)
                    return self._answer(
                        final.answer,
                        final.reference,
                        prompt=final.prompt,
                        created_at=time.time(),
                        audio_binary=self._audio(final.answer),
                    )
        except RagserveError:
            self._store("".join(said), {})
            raise
        raise RagserveError("The model ended without an answer.")

    def events(self) -> Iterator[StreamEvent]:
        """The answer as RAGFlow streams it (spec 4.1): deltas of at least ``DELTA_TOKENS``
        tokens, reasoning between markers, a final event with the reference (chats with
        datasets), then ``data: true``. A failure becomes an error event."""
        said: list[str] = []
        try:
            yield from self._pieces(said)
        except RagserveError as error:
            yield from self._flush()
            yield StreamEvent.failure(error.message)
        except Exception:
            logger.exception("answering in session %s failed", self.session_id)
            yield from self._flush()
            yield StreamEvent.failure("Internal error while answering; see the server log.")
        finally:  # also when the client goes away: keep what was said
            self._store("".join(said), {})
        yield StreamEvent(data=True)

    def _pieces(self, said: list[str]) -> Iterator[StreamEvent]:
        for event in answer(self.runtime, self.assistant, self.request):
            if event.final is not None:
                yield from self._flush()
                final = event.final
                self._store(final.answer, final.reference)
                if self.has_datasets:
                    data = self._answer(
                        "", final.reference, prompt=final.prompt, created_at=time.time(), final=True
                    )
                    yield StreamEvent(data=data)
                continue
            if (event.kind == "reasoning") != self._thinking:
                yield from self._flush()
                self._thinking = not self._thinking
                marker = "start_to_think" if self._thinking else "end_to_think"
                marked = self._answer("", {"chunks": []}, final=False, **{marker: True})
                yield StreamEvent(data=marked)
            first = event.kind == "text" and not said
            if event.kind == "text":
                said.append(event.text)
            self._pending += event.text
            self._pending_tokens += count_tokens(event.text)
            if first or self._pending_tokens >= DELTA_TOKENS:
                yield from self._flush()

    def _flush(self) -> Iterator[StreamEvent]:
        """Send the text held back for a full-size delta, if any."""
        if self._pending:
            text, self._pending, self._pending_tokens = self._pending, "", 0
            audio = None if self._thinking else self._audio(text)
            yield self._delta(text, audio)

    def _delta(self, text: str, audio: str | None) -> StreamEvent:
        data = self._answer(text, {"chunks": []}, final=False, audio_binary=audio)
        return StreamEvent(data=data)

    def _audio(self, text: str) -> str | None:
        """``text`` spoken by the tenant's TTS model, hex-encoded, when the chat has ``tts`` on
        (RAGFlow's ``audio_binary``); None without a model, or when the model fails: the
        answer goes on without sound."""
        spoken = CITATION.sub("", text).strip()
        if self.speaker is None or not spoken:
            return None
        try:
            return b"".join(self.speaker.synthesize(spoken)).hex()
        except RagserveError as error:
            logger.warning("speaking the answer in session %s failed: %s", self.session_id, error)
            return None

    def _store(self, answer_text: str, reference: ChatReference) -> None:
        """Store the exchange once: the final answer, or what was said before a failure."""
        if not self._stored:
            self._stored = True
            record_exchange(
                self.runtime,
                self.session_id,
                self.message_id,
                self.question,
                answer_text,
                reference,
            )
