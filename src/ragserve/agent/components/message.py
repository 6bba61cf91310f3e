"""Message: says something to the user. ``content`` is a list of templates (one is picked at
random); references in it are filled in, and an LLM or Agent output that is still being
generated is streamed piece by piece as it comes. The text said is the ``content`` output."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pydantic import Field, field_validator

from ragserve.agent import attachments, variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.streaming import Piece, StreamedText


class MessageParams(ComponentParams):
    content: list[str] = Field(default_factory=list)
    stream: bool = True
    output_format: str | None = None
    auto_play: bool = False
    status: int | None = None

    @field_validator("content", mode="before")
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

    def attachment(self, context: RunContext, text: str) -> dict[str, str] | None:
        """The said text as a file of ``output_format`` (stored; RAGFlow's ``attachment``
        output: ``{doc_id, format, file_name}``), or None without a known format."""
        params = self.params
        assert isinstance(params, MessageParams)
        output_format = (params.output_format or "").strip().lower()
        if output_format not in attachments.FORMATS or not text:
            return None
        doc_id = context.environment.store_attachment(attachments.render(text, output_format))
        extension = attachments.extension(output_format)
        return {"doc_id": doc_id, "format": extension, "file_name": f"{doc_id[:8]}.{extension}"}
