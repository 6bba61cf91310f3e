"""``POST /api/v1/chats/{chat_id}/completions`` (spec 2.7, stream format 4.1)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from ragserve.api.body import json_object
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import api_result
from ragserve.errors import DataError, RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import completions
from ragserve.services.completions import Assistant, Request
from ragserve.tokenizer import count_tokens

router = APIRouter(prefix="/api/v1/chats", tags=["completions"])
logger = logging.getLogger(__name__)

JsonBody = Annotated[dict[str, Any], Depends(json_object)]
SSE_HEADERS = {"Cache-control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}
DELTA_TOKENS = 16
"""Streamed text is sent in pieces of at least this many tokens (the last may be shorter), except
the first piece, which goes out at once: with a real model 16 tokens take a few hundred ms."""
RESERVED = frozenset(
    {"question", "stream", "session_id", "user_id", "name", "metadata_condition", "doc_ids"}
    | {"kb_ids", "reasoning", "quote"}
)


def sse(payload: Any) -> str:
    """One event as RAGFlow writes it: ``data:`` without a space, ``json.dumps`` defaults."""
    return "data:" + json.dumps(payload, ensure_ascii=False) + "\n\n"


def event_stream(events: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events, media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
    )


@router.post("/{chat_id}/completions", response_model=None)
def chat_completion(
    runtime: RuntimeDep, caller: ApiCaller, chat_id: str, body: JsonBody
) -> dict[str, Any] | StreamingResponse:
    """Ask the assistant; without ``session_id`` a session is opened and its prologue returned."""
    assistant = completions.load_assistant(runtime, caller, chat_id)
    stream = body.get("stream", True) not in (False, "false", "False", 0)
    session_id = body.get("session_id")
    if not session_id:
        opened = completions.open_session(
            runtime, caller, chat_id, str(body.get("name") or ""), str(body.get("user_id") or "")
        )
        opening: dict[str, Any] = {
            "answer": opened.messages[0]["content"],
            "reference": {},
            "audio_binary": None,
            "id": None,
            "session_id": opened.id,
        }
        if not stream:
            return api_result(opening)
        done = {"code": 0, "message": "", "data": True}
        return event_stream(iter([sse({"code": 0, "message": "", "data": opening}), sse(done)]))
    history = completions.conversation(runtime, assistant, str(session_id))
    request = _request(body, history)
    question = request.messages[-1]["content"]
    message_id = str(uuid.uuid4())
    turn = Turn(runtime, assistant, request, str(session_id), message_id, question)
    if stream:
        return event_stream(turn.sse())
    return api_result(turn.collect())


def _request(body: dict[str, Any], history: list[dict[str, str]]) -> Request:
    question = body.get("question")
    question = question if isinstance(question, str) else ""
    raw_condition = body.get("metadata_condition")
    if raw_condition is not None and not isinstance(raw_condition, dict):
        raise DataError("metadata_condition must be an object.")
    doc_ids = body.get("doc_ids") or ""
    documents = (
        [d.strip() for d in doc_ids.split(",") if d.strip()]
        if isinstance(doc_ids, str)
        else [str(d) for d in doc_ids if d]
        if isinstance(doc_ids, list)
        else []
    )
    kb_ids = body.get("kb_ids") or []
    values = {k: str(v) for k, v in body.items() if k not in RESERVED and v is not None}
    return Request(
        messages=[*history, {"role": "user", "content": question}],
        quote=body.get("quote", True) not in (False, "false", "False", 0),
        document_ids=tuple(documents),
        extra_dataset_ids=tuple(str(k) for k in kb_ids) if isinstance(kb_ids, list) else (),
        metadata_condition=parse_metadata_condition(raw_condition or None),
        values=values,
    )


class Turn:
    """One question and answer in a session, streamed or collected, stored when it ends."""

    def __init__(
        self,
        runtime: Runtime,
        assistant: Assistant,
        request: Request,
        session_id: str,
        message_id: str,
        question: str,
    ) -> None:
        self.runtime = runtime
        self.assistant = assistant
        self.request = request
        self.session_id = session_id
        self.message_id = message_id
        self.question = question
        self.has_datasets = bool(assistant.dataset_ids or request.extra_dataset_ids)
        self._stored = False
        self._pending = ""

    def _data(self, answer: str, reference: Any, **extra: Any) -> dict[str, Any]:
        return {
            "answer": answer,
            "reference": reference,
            "audio_binary": None,
            **extra,
            "id": self.message_id,
            "session_id": self.session_id,
        }

    def collect(self) -> dict[str, Any]:
        said: list[str] = []
        try:
            for event in completions.answer(self.runtime, self.assistant, self.request):
                if event.kind == "text":
                    said.append(event.text)
                elif event.final is not None:
                    final = event.final
                    self._store(final.answer, final.reference)
                    return self._data(
                        final.answer, final.reference, prompt=final.prompt, created_at=time.time()
                    )
        except RagserveError:
            self._store("".join(said), {})
            raise
        raise RagserveError("The model ended without an answer.")

    def sse(self) -> Iterator[str]:
        said: list[str] = []
        try:
            yield from self._pieces(said)
        except RagserveError as error:
            yield from self._flush()
            yield error_event(error.message)
        except Exception:
            logger.exception("answering in session %s failed", self.session_id)
            yield from self._flush()
            yield error_event("Internal error while answering; see the server log.")
        finally:  # also when the client goes away: keep what was said
            self._store("".join(said), {})
        yield sse({"code": 0, "data": True})

    def _pieces(self, said: list[str]) -> Iterator[str]:
        thinking = False
        for event in completions.answer(self.runtime, self.assistant, self.request):
            if event.final is not None:
                yield from self._flush()
                final = event.final
                self._store(final.answer, final.reference)
                if self.has_datasets:
                    data = self._data(
                        "", final.reference, prompt=final.prompt, created_at=time.time(), final=True
                    )
                    yield sse({"code": 0, "data": data})
                continue
            if (event.kind == "reasoning") != thinking:
                yield from self._flush()
                thinking = not thinking
                marker = "start_to_think" if thinking else "end_to_think"
                yield self._delta("", **{marker: True})
            first = event.kind == "text" and not said
            if event.kind == "text":
                said.append(event.text)
            self._pending += event.text
            if first or count_tokens(self._pending) >= DELTA_TOKENS:
                yield from self._flush()

    def _flush(self) -> Iterator[str]:
        """Send the text held back for a full-size delta, if any."""
        if self._pending:
            text, self._pending = self._pending, ""
            yield self._delta(text)

    def _delta(self, text: str, **flags: bool) -> str:
        return sse({"code": 0, "data": self._data(text, {"chunks": []}, final=False, **flags)})

    def _store(self, answer: str, reference: dict[str, Any]) -> None:
        """Store the exchange once: the final answer, or what was said before a failure."""
        if not self._stored:
            self._stored = True
            completions.record_exchange(
                self.runtime, self.session_id, self.message_id, self.question, answer, reference
            )


def error_event(message: str) -> str:
    """RAGFlow's stream event for a failed answer (spec 4.1)."""
    answer = {"answer": f"**ERROR**: {message}", "reference": []}
    return sse({"code": 500, "message": message, "data": answer})
