"""Message: says something to the user. ``content`` is a list of templates (one is picked at
random); references in it are filled in, and an LLM or Agent output that is still being
generated is streamed piece by piece as it comes. The text said is the ``content`` output.
With ``memory_ids``, the turn (the question and the text said) is kept in those memories.

A template with Jinja syntax (``{{``, ``}}`` or ``{% … %}``) is rendered by Jinja in a
sandbox, as RAGFlow does: each reference becomes a variable named after it with ``@``, ``:``
and ``.`` as ``_`` (``{sys.query}`` is ``sys_query``, ``{Agent:X@content}`` is
``Agent_X_content``), holding its value; the text comes whole, not streamed. A template Jinja
cannot render is said as it is, its references filled in."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator

from ragserve.agent import attachments, variables
from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.streaming import Piece, StreamedText

logger = logging.getLogger(__name__)

JINJA = re.compile(r"\{%.*?%\}|\{\{|\}\}", re.DOTALL)
_SANDBOX = SandboxedEnvironment()


def _plain(value: Any) -> Any:
    """A value as a Jinja template sees it: streamed text read whole."""
    if isinstance(value, StreamedText):
        return value.text()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def rendered(template: str, context: RunContext) -> str:
    """A Jinja template rendered in the sandbox with the references as variables."""
    values: dict[str, Any] = {}

    def named(match: re.Match[str]) -> str:
        name = re.sub(r"[@:.]", "_", match.group(1))
        values.setdefault(name, _plain(context.value(match.group(1))))
        return name

    script = variables.REFERENCE.sub(named, template)
    try:
        text = _SANDBOX.from_string(script).render(values)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        logger.warning("Message template not rendered by Jinja: %s", error)
        text = script
    for name in sorted(values, key=len, reverse=True):  # names left as text: their values
        text = text.replace(name, variables.as_text(values[name]))
    return text


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
        if JINJA.search(template):
            yield Piece(rendered(template, context))
            return
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
