"""An assistant answering OpenAI's chat completion API (spec 2.8, stream format 4.2).

``prepare`` turns a request into an ``OpenAICall``; ``complete`` answers it whole,
``chunks`` streams it. No session is stored: the caller sends the conversation every time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.schemas.openai import (
    AnswerMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
    Usage,
)
from ragserve.services.completions import Assistant, Final, Request, answer
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)


def model_list(assistant: Assistant) -> ModelList:
    """The assistant as the one model of a model list."""
    return ModelList(data=[ModelCard(id=assistant.id)])


def prepare(assistant: Assistant, body: ChatCompletionRequest) -> OpenAICall:
    """The call ``body`` asks for; a malformed ``metadata_condition`` is an ``ArgumentError``."""
    reference = bool(body.reference)
    request = Request(
        messages=body.conversation(),
        quote=reference,  # without references, no citations either (RAGFlow's behaviour)
        metadata_condition=parse_metadata_condition(body.metadata_condition),
    )
    return OpenAICall(assistant, body.model, request, reference)


def _usage(prompt_tokens: int, completion_tokens: int) -> Usage:
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


class OpenAICall:
    """One OpenAI-style request to an assistant."""

    def __init__(self, assistant: Assistant, model: str, request: Request, reference: bool) -> None:
        self.assistant = assistant
        self.model = model
        self.request = request
        self.reference = reference
        self.created = int(time.time())
        self.id = f"chatcmpl-{assistant.id}"

    def complete(self, runtime: Runtime) -> ChatCompletion:
        """The whole answer; a failure of the model (or the search) is raised."""
        final: Final | None = None
        for event in answer(runtime, self.assistant, self.request):
            if event.final is not None:
                final = event.final
        if final is None:
            raise RagserveError("The model ended without an answer.")
        message = AnswerMessage(
            content=final.answer,
            reference=final.reference.get("chunks", []) if self.reference else None,
        )
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            usage=_usage(self.question_tokens(), count_tokens(final.answer)),
            choices=[Choice(message=message)],
        )

    def chunks(self, runtime: Runtime) -> Iterator[ChatCompletionChunk]:
        """The answer as streamed chunks, the last with ``usage`` (and the reference when asked
        for). A failure midway is raised as a ``RagserveError`` (an unexpected one is logged
        first, and its text kept from the client), for the route to end the stream with OpenAI's
        error object."""
        prompt_tokens = self.question_tokens()
        completion_tokens = 0
        last = ChunkDelta(content=None, reasoning_content=None)
        try:
            for event in answer(runtime, self.assistant, self.request):
                if event.final is not None:
                    if self.reference:
                        last.reference = event.final.reference.get("chunks", [])
                        last.final_content = event.final.answer
                    continue
                completion_tokens += count_tokens(event.text)
                if event.kind == "reasoning":
                    yield self._chunk(ChunkDelta(content=None, reasoning_content=event.text))
                else:
                    yield self._chunk(ChunkDelta(content=event.text, reasoning_content=None))
        except RagserveError:
            raise
        except Exception as error:
            logger.exception("OpenAI-compatible answer of chat %s failed", self.assistant.id)
            raise RagserveError("Internal error while answering; see the server log.") from error
        yield self._chunk(last, "stop", _usage(prompt_tokens, completion_tokens))

    def question_tokens(self) -> int:
        """``prompt_tokens`` as RAGFlow counts them: cl100k tokens of the last user message
        (the question), not of everything sent to the model."""
        questions = [m for m in self.request.messages if m["role"] == "user"]
        return count_tokens(questions[-1]["content"]) if questions else 0

    def _chunk(
        self, delta: ChunkDelta, finish_reason: str | None = None, usage: Usage | None = None
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)],
            created=self.created,
            model=self.model,
            usage=usage,
        )
