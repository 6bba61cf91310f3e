"""OpenAI-compatible chat with an assistant (spec 2.8, stream format 4.2).

``POST /api/v1/chats_openai/{chat_id}/chat/completions`` is what LiteLLM's ``ragflow/chat/...``
provider and the OpenAI SDK call. Failures answer real HTTP statuses with OpenAI's error body,
since those clients only look at the status. ``GET /api/v1/chats_openai/{chat_id}/models``
lists the assistant as a model, for tools that list models before they chat.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ragserve.api.body import parse_json_object
from ragserve.api.completions import SSE_HEADERS
from ragserve.api.deps import AuthorizationHeader, RuntimeDep
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import completions
from ragserve.services.auth import authenticate_api_key
from ragserve.services.completions import Assistant
from ragserve.services.tenancy import Caller
from ragserve.tokenizer import count_tokens

router = APIRouter(prefix="/api/v1/chats_openai", tags=["openai"])
logger = logging.getLogger(__name__)


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def response(self) -> JSONResponse:
        error = {"message": self.message, "type": self.kind, "param": None, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


def _caller(runtime: Runtime, authorization: str | None) -> Caller:
    with runtime.read() as session:
        try:
            return authenticate_api_key(session, authorization)
        except RagserveError as error:
            raise OpenAIError(
                401, error.message, "invalid_request_error", "invalid_api_key"
            ) from None


def _assistant(runtime: Runtime, caller: Caller, chat_id: str) -> Assistant:
    try:
        return completions.load_assistant(runtime, caller, chat_id)
    except RagserveError as error:
        raise OpenAIError(404, error.message, "invalid_request_error", "model_not_found") from None


@router.get("/{chat_id}/models", response_model=None)
def list_models(
    runtime: RuntimeDep, authorization: AuthorizationHeader, chat_id: str
) -> dict[str, Any] | JSONResponse:
    """The assistant as the one model of an OpenAI model list."""
    try:
        assistant = _assistant(runtime, _caller(runtime, authorization), chat_id)
    except OpenAIError as error:
        return error.response()
    model = {"id": assistant.id, "object": "model", "created": 0, "owned_by": "ragserve"}
    return {"object": "list", "data": [model]}


@router.post("/{chat_id}/chat/completions", response_model=None)
async def chat_completions(
    request: Request, runtime: RuntimeDep, authorization: AuthorizationHeader, chat_id: str
) -> Any:
    """OpenAI's chat completion, answered by the assistant from its datasets."""
    try:
        body = _body(await request.body())
        caller = _caller(runtime, authorization)
        assistant = _assistant(runtime, caller, chat_id)
        call = _call(assistant, body)
    except OpenAIError as error:
        return error.response()
    if call.stream:
        return StreamingResponse(
            call.chunks(runtime), media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
        )
    try:
        return call.complete(runtime)
    except RagserveError as error:
        return OpenAIError(502, error.message, "api_error").response()


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json_object(raw) if raw.strip() else {}
    except RagserveError as error:
        raise OpenAIError(400, error.message, "invalid_request_error") from None
    missing = [name for name in ("model", "messages") if not body.get(name)]
    if missing:
        message = "required argument are missing: " + "".join(f"{m}; " for m in missing)
        raise OpenAIError(400, message, "invalid_request_error", "missing_required_parameter")
    return body


class Call:
    """One OpenAI-style request, validated."""

    def __init__(
        self,
        assistant: Assistant,
        model: str,
        request: completions.Request,
        stream: bool,
        reference: bool,
    ) -> None:
        self.assistant = assistant
        self.model = model
        self.request = request
        self.stream = stream
        self.reference = reference
        self.created = int(time.time())
        self.id = f"chatcmpl-{assistant.id}"

    def complete(self, runtime: Runtime) -> dict[str, Any]:
        final = None
        for event in completions.answer(runtime, self.assistant, self.request):
            if event.final is not None:
                final = event.final
        assert final is not None
        message: dict[str, Any] = {"role": "assistant", "content": final.answer}
        if self.reference:
            message["reference"] = final.reference.get("chunks", [])
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "usage": {
                "prompt_tokens": final.prompt_tokens,
                "completion_tokens": final.completion_tokens,
                "total_tokens": final.prompt_tokens + final.completion_tokens,
            },
            "choices": [
                {"message": message, "logprobs": None, "finish_reason": "stop", "index": 0}
            ],
        }

    def chunks(self, runtime: Runtime) -> Iterator[str]:
        prompt_tokens = sum(count_tokens(m["content"]) for m in self.request.messages)
        completion_tokens = 0
        final_delta: dict[str, Any] = {}
        try:
            for event in completions.answer(runtime, self.assistant, self.request):
                if event.final is not None:
                    prompt_tokens = event.final.prompt_tokens or prompt_tokens
                    if self.reference:
                        final_delta = {
                            "reference": event.final.reference.get("chunks", []),
                            "final_content": event.final.answer,
                        }
                    continue
                completion_tokens += count_tokens(event.text)
                if event.kind == "reasoning":
                    yield self._chunk({"content": None, "reasoning_content": event.text})
                else:
                    yield self._chunk({"content": event.text, "reasoning_content": None})
        except RagserveError as error:
            yield self._chunk({"content": f"**ERROR**: {error.message}", "reasoning_content": None})
        except Exception:
            logger.exception("OpenAI-compatible answer of chat %s failed", self.assistant.id)
            message = "**ERROR**: Internal error while answering; see the server log."
            yield self._chunk({"content": message, "reasoning_content": None})
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        last = {"content": None, "reasoning_content": None, **final_delta}
        yield self._chunk(last, finish_reason="stop", usage=usage)
        yield "data:[DONE]\n\n"

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, usage: Any = None
    ) -> str:
        delta = {"role": "assistant", "function_call": None, "tool_calls": None, **delta}
        payload = {
            "id": self.id,
            "choices": [
                {"delta": delta, "finish_reason": finish_reason, "index": 0, "logprobs": None}
            ],
            "created": self.created,
            "model": self.model,
            "object": "chat.completion.chunk",
            "system_fingerprint": "",
            "usage": usage,
        }
        return "data:" + json.dumps(payload, ensure_ascii=False) + "\n\n"


def _call(assistant: Assistant, body: dict[str, Any]) -> Call:
    extra = body.get("extra_body")
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise OpenAIError(400, "extra_body must be an object.", "invalid_request_error")
    options = {**body, **extra}  # the OpenAI SDK and LiteLLM flatten extra_body into the body
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAIError(400, "You have to provide messages.", "invalid_request_error")
    conversation = [
        {"role": str(m.get("role")), "content": _text(m.get("content"))}
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]
    if not conversation or conversation[-1]["role"] != "user":
        raise OpenAIError(
            400, "The last content of this conversation is not from user.", "invalid_request_error"
        )
    while conversation[0]["role"] != "user":
        conversation.pop(0)
    condition = options.get("metadata_condition")
    if condition is not None and not isinstance(condition, dict):
        raise OpenAIError(400, "metadata_condition must be an object.", "invalid_request_error")
    try:
        parsed = parse_metadata_condition(condition or None)
    except RagserveError as error:
        raise OpenAIError(400, error.message, "invalid_request_error") from None
    reference = bool(options.get("reference", False))
    request = completions.Request(
        messages=conversation,
        quote=reference,
        metadata_condition=parsed,
    )
    stream = body.get("stream", False) in (True, "true", "True", 1)
    return Call(assistant, str(body.get("model")), request, stream, reference)


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""
