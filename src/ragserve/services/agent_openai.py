"""An agent answering OpenAI's chat completion API (``POST /api/v1/agents_openai/{id}/chat/
completions``, spec ragflow-api 2.9 and 4.4), for LiteLLM's ``ragflow/agent/...`` provider and
the OpenAI SDK. Only the last user message is asked: the session (``session_id``, ``id`` or
``metadata.id``; a new one otherwise) keeps the conversation, as in RAGFlow.

Streamed, each ``message`` event is a chunk, a ``message_end`` an empty one (with
``delta.reference`` when the text cites); then, unlike RAGFlow, a last chunk with
``finish_reason: "stop"`` and ``usage``, which OpenAI clients expect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.agents import (
    AgentAnswerMessage,
    AgentChatCompletion,
    AgentChatCompletionChunk,
    AgentChatCompletionRequest,
    AgentChoice,
    AgentChunkChoice,
    AgentChunkDelta,
    AgentCompletionRequest,
    AgentUsage,
)
from ragserve.services.agent_runs import AgentTurn, start_turn
from ragserve.services.tenancy import Caller
from ragserve.timeutil import new_id
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)

NO_MESSAGES = "No valid messages found (user or assistant)."


def prepare(
    runtime: Runtime, caller: Caller, agent_id: str, body: AgentChatCompletionRequest
) -> AgentTurn | None:
    """The turn to run, or ``None`` when the messages hold no user message."""
    question = body.question
    if question is None:
        return None
    request = AgentCompletionRequest(
        question=question,
        stream=body.stream,
        session_id=body.session,
        inputs=body.inputs,
        files=body.files,
        user_id=body.user_id,
    )
    return start_turn(runtime, caller, agent_id, request)


def _usage(question: str, answer: str) -> AgentUsage:
    prompt, completion = count_tokens(question), count_tokens(answer)
    return AgentUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def completion(agent_id: str, turn: AgentTurn | None) -> AgentChatCompletion:
    if turn is None:
        message = AgentAnswerMessage(content=NO_MESSAGES)
        return AgentChatCompletion(
            id=new_id(),
            created=int(time.time()),
            model=agent_id,
            usage=_usage("", NO_MESSAGES),
            choices=[AgentChoice(message=message)],
        )
    turn.collect()
    answer, reference = turn.run.answer, turn.run.reference
    message = AgentAnswerMessage(content=answer, reference=reference or None)
    return AgentChatCompletion(
        id=turn.session_id,
        created=int(time.time()),
        model=agent_id,
        usage=_usage(turn.question, answer),
        choices=[AgentChoice(message=message)],
    )


def chunks(agent_id: str, turn: AgentTurn | None) -> Iterator[AgentChatCompletionChunk]:
    created = int(time.time())
    ident = turn.session_id if turn is not None else new_id()

    def chunk(
        content: str | None, reference: dict[str, object] | None = None, **fields: object
    ) -> AgentChatCompletionChunk:
        delta = AgentChunkDelta(role="assistant", content=content, reference=reference)
        return AgentChatCompletionChunk.model_validate(
            {
                "id": ident,
                "created": created,
                "model": agent_id,
                "choices": [AgentChunkChoice(delta=delta, finish_reason=fields.get("finish"))],
                "usage": fields.get("usage"),
            }
        )

    if turn is None:
        yield chunk(NO_MESSAGES)
        yield chunk(None, finish="stop", usage=_usage("", NO_MESSAGES))
        return
    try:
        for event in turn.events():
            if event.event == "message" and event.data.get("content"):
                yield chunk(str(event.data["content"]))
            elif event.event == "message_end":
                yield chunk("", event.data.get("reference"))
    except RagserveError as error:
        yield chunk(f"**ERROR**: {error.message}")
    except Exception:
        logger.exception("agent %s failed", agent_id)
        yield chunk("**ERROR**: Internal error while answering; see the server log.")
    yield chunk(None, finish="stop", usage=_usage(turn.question, turn.run.answer))
