"""Message: says something to the user. ``content`` is a list of templates (one is picked at
random); references in it are filled in, and an LLM or Agent output that is still being
generated is streamed piece by piece as it comes. The text said is the ``content`` output.
With ``memory_ids``, the turn (the question and the text said) is kept in those memories."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pydantic import Field, field_validator

from ragserve.agent import variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.streaming import Piece, StreamedText


class MessageParams(ComponentParams):
    content: list[str] = Field(default_factory=list)
    stream: bool = True
    output_format: str | None = None
    auto_play: bool = False
    status: int | None = None
    memory_ids: list[str] = Field(default_factory=list)

    @field_validator("content", "memory_ids", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value


class Message(Component):
    component_name = "Message"
    Params = MessageParams
    streams = True

    def stream(self, context: RunContext) -> Iterator[Piece]:
        params = self.params
        assert isinstance(params, MessageParams)
        said: list[str] = []
        for piece in self._pieces(context, params):
            if not piece.reasoning:
                said.append(piece.text)
            yield piece
        memory_ids = tuple(i for i in params.memory_ids if i)
        if memory_ids:
            context.environment.remember(memory_ids, context.query, "".join(said))

    def _pieces(self, context: RunContext, params: MessageParams) -> Iterator[Piece]:
        if not params.content:
            return
        template = random.choice(params.content)
        position = 0
        for match in variables.REFERENCE.finditer(template):
            if match.start() > position:
                yield Piece(template[position : match.start()])
            position = match.end()
            value = context.value(match.group(1))
            if isinstance(value, StreamedText):
                yield from value.pieces()
            else:
                text = variables.as_text(value)
                if text:
                    yield Piece(text)
        if position < len(template):
            yield Piece(template[position:])
