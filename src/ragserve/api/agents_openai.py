"""``POST /api/v1/agents_openai/{agent_id}/chat/completions``: an agent as an OpenAI model
(spec 2.9, stream 4.4), for LiteLLM's ``ragflow/agent/...`` and the OpenAI SDK. Failures answer
HTTP statuses with OpenAI's error body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.responses import StreamingResponse

from ragserve.api.body import RagflowRoute
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import OpenAIErrorBody, event_stream, sse
from ragserve.api.openapi import HTTP_STATUS_ERRORS, event_stream_responses
from ragserve.errors import DataError, OpenAINotFound, OpenAIUpstreamError, RagserveError
from ragserve.schemas.agents import (
    AgentChatCompletion,
    AgentChatCompletionChunk,
    AgentChatCompletionRequest,
)
from ragserve.services import agent_openai

router = APIRouter(prefix="/api/v1/agents_openai", tags=["openai"], route_class=RagflowRoute)

ERRORS = {
    400: "The request is malformed, or the agent's DSL cannot run.",
    401: "The API key is missing or unknown.",
    404: "No agent or session of the caller has this id.",
    502: "The agent failed.",
}


@router.post(
    "/{agent_id}/chat/completions",
    response_model=None,
    openapi_extra=HTTP_STATUS_ERRORS,
    responses={
        **event_stream_responses(
            AgentChatCompletionChunk,
            "`stream: true`: server-sent chunks (`data: `), then `data: [DONE]`. Otherwise the "
            "whole answer.",
            json_model=AgentChatCompletion,
            last_event="[DONE]",
        ),
        **{s: {"model": OpenAIErrorBody, "description": d} for s, d in ERRORS.items()},
    },
    summary="Run an agent as an OpenAI model",
)
def agent_chat_completions(
    runtime: RuntimeDep,
    caller: ApiCaller,
    agent_id: Annotated[str, Path(description="The agent's id.")],
    body: Annotated[AgentChatCompletionRequest, Body()],
) -> AgentChatCompletion | StreamingResponse:
    """The agent's answer to the last user message (the session keeps the conversation:
    pass `session_id` to continue one). `delta.reference` / `message.reference` hold the
    passages cited."""
    try:
        turn = agent_openai.prepare(runtime, caller, agent_id, body)
    except DataError as error:
        raise OpenAINotFound(error.message) from None
    if body.stream:
        return event_stream(_lines(agent_openai.chunks(agent_id, turn)))
    try:
        return agent_openai.completion(agent_id, turn)
    except RagserveError as error:
        raise OpenAIUpstreamError(error.message) from error


def _lines(chunks: Iterator[AgentChatCompletionChunk]) -> Iterator[str]:
    for chunk in chunks:
        yield sse(chunk.model_dump(mode="json")).replace("data:", "data: ", 1)
    yield "data: [DONE]\n\n"
