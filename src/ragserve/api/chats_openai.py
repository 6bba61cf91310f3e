"""OpenAI-compatible chat with an assistant (spec 2.8, stream format 4.2).

``POST /api/v1/chats_openai/{chat_id}/chat/completions`` is what LiteLLM's ``ragflow/chat/...``
provider and the OpenAI SDK call. Failures answer real HTTP statuses with OpenAI's error body,
since those clients only look at the status: the ``OpenAIError`` family, which the API's error
handler renders for these routes (any other error of theirs too). ``GET .../models`` lists the
assistant as a model, for tools that list models before they chat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import (
    OpenAIErrorBody,
    event_stream,
    openai_error_body,
    sse,
    sse_events,
)
from ragserve.api.openapi import HTTP_STATUS_ERRORS, event_stream_responses
from ragserve.errors import OpenAIError, OpenAINotFound, OpenAIUpstreamError, RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.openai import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ModelList,
)
from ragserve.services import completions, openai_chat
from ragserve.services.completions import Assistant
from ragserve.services.tenancy import Caller

router = APIRouter(prefix="/api/v1/chats_openai", tags=["openai"], route_class=RagflowRoute)

ChatId = Annotated[str, Path(description="The chat's id.")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "The request is malformed (OpenAI's `invalid_request_error`).",
        401: "The API key is missing or unknown (`invalid_api_key`).",
        404: "No chat of the caller has this id (`model_not_found`).",
        502: "The model behind the assistant failed (`api_error`).",
    }
    return {
        status: {"model": OpenAIErrorBody, "description": meaning[status]} for status in statuses
    }


def _assistant(runtime: Runtime, caller: Caller, chat_id: str) -> Assistant:
    try:
        return completions.load_assistant(runtime, caller, chat_id)
    except RagserveError as error:
        raise OpenAINotFound(error.message) from None


@router.get(
    "/{chat_id}/models",
    openapi_extra=HTTP_STATUS_ERRORS,
    responses=_errors(401, 404),
    summary="List the assistant as a model",
)
def list_models(runtime: RuntimeDep, caller: ApiCaller, chat_id: ChatId) -> ModelList:
    """The assistant as the one model of an OpenAI model list."""
    return openai_chat.model_list(_assistant(runtime, caller, chat_id))


@router.post(
    "/{chat_id}/chat/completions",
    response_model=None,
    openapi_extra=HTTP_STATUS_ERRORS,
    responses={
        **event_stream_responses(
            ChatCompletionChunk,
            "`stream: true`: server-sent events, each `data:` and a chunk (no space after "
            "`data:`), then `data:[DONE]`; a failure midway ends the stream with OpenAI's error "
            'object, `data:{"error": {...}}`, instead of `[DONE]`. Otherwise the whole answer.',
            json_model=ChatCompletion,
            last_event="[DONE]",
        ),
        **_errors(400, 401, 404, 502),
    },
    summary="Chat with an assistant as with an OpenAI model",
)
def chat_completions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    chat_id: ChatId,
    body: Annotated[ChatCompletionRequest, Body()],
) -> ChatCompletion | StreamingResponse:
    """OpenAI's chat completion, answered by the assistant from its datasets with its own
    system prompt and model (`model` is only echoed). The caller's system messages are
    dropped and no session is stored. `reference: true` (at the top level or in
    `extra_body`) adds citations and the passages; `metadata_condition` filters the documents
    searched."""
    call = openai_chat.prepare(_assistant(runtime, caller, chat_id), body)
    if body.stream:
        return event_stream(_chunks(call.chunks(runtime)))
    try:
        return call.complete(runtime)
    except RagserveError as error:
        raise OpenAIUpstreamError(error.message) from error


def _chunks(chunks: Iterator[ChatCompletionChunk]) -> Iterator[str]:
    """The chunks, then ``[DONE]``; a failure midway ends the stream with OpenAI's error object
    instead (``data:{"error": {...}}``, no ``[DONE]``), which the OpenAI SDK raises as an
    ``APIError`` and no client takes for a piece of the answer."""
    try:
        yield from sse_events(chunks)
    except RagserveError as error:
        failure = error if isinstance(error, OpenAIError) else OpenAIUpstreamError(error.message)
        yield sse(openai_error_body(failure, error.message))
        return
    yield "data:[DONE]\n\n"
