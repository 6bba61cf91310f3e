"""LLM: one call of a chat model. The system prompt (``sys_prompt``), the conversation so far
(``message_history_window_size`` turns) and ``prompts`` (``{role, content}`` templates, by
default the question) make the messages. The answer is the ``content`` output; when a Message
follows, it streams to the client as the model writes it. With ``output_structure`` (a JSON
schema) the model is asked for JSON, parsed into the ``structured`` output. With ``cite`` and
passages retrieved earlier in the turn, the model is asked to cite them as ``[ID:n]``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ragserve.agent.components.base import Component, ComponentParams
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.agent.streaming import Piece, StreamedText
from ragserve.models.chat import ChatModel
from ragserve.rag.think import ThinkSplitter

CITE_PROMPT = (
    "\n\nWhen a sentence of your answer uses one of the passages above, end the sentence with "
    "the passage's ID in the form [ID:n]. Do not cite passages you did not use."
)
JSON_PROMPT = "\n\nAnswer with one JSON object and nothing else. It must follow this JSON schema:\n"
# The generation settings and the flag RAGFlow's UI stores beside each.
GENERATION_FLAGS = {
    "temperature": "temperatureEnabled",
    "top_p": "topPEnabled",
    "presence_penalty": "presencePenaltyEnabled",
    "frequency_penalty": "frequencyPenaltyEnabled",
    "max_tokens": "maxTokensEnabled",
}


class PromptMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = "user"
    content: str = ""


def default_prompts() -> list[PromptMessage]:
    return [PromptMessage(role="user", content="{sys.query}")]


class LLMParams(ComponentParams):
    llm_id: str = ""
    sys_prompt: str = ""
    prompts: list[PromptMessage] = Field(default_factory=default_prompts)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    max_tokens: int | None = Field(None, ge=1)
    output_structure: dict[str, Any] | None = None
    cite: bool = True
    visual_files_var: str | None = None

    def generation_options(self) -> dict[str, Any]:
        """Settings applied: those whose flag is on, or set without a flag."""
        extra = self.model_extra or {}
        options: dict[str, Any] = {}
        for name, flag in GENERATION_FLAGS.items():
            value = getattr(self, name)
            enabled = extra.get(flag)
            if value is not None and (enabled is True or (enabled is None)):
                options[name] = value
        return options


def model_pieces(
    chat: ChatModel, messages: list[dict[str, str]], options: dict[str, Any]
) -> Iterator[Piece]:
    """The model's answer as pieces, ``<think>`` reasoning marked."""
    splitter = ThinkSplitter()
    for delta in chat.stream(messages, options):
        if delta.reasoning:
            yield Piece(delta.reasoning, reasoning=True)
        for reasoning, text in splitter.feed(delta.text) if delta.text else []:
            yield Piece(text, reasoning)
    for reasoning, text in splitter.flush():
        yield Piece(text, reasoning)


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_json_answer(text: str, owner: str) -> Any:
    """The JSON object in a model's answer (inside a code fence or prose)."""
    match = _JSON_OBJECT.search(text)
    try:
        return json.loads(match.group(0) if match else text)
    except ValueError:
        raise ComponentError(f"{owner}: the model did not answer with JSON.") from None


class LLM(Component):
    component_name = "LLM"
    Params = LLMParams
    streams_to_message = False
    """Set when the DSL loads: a Message follows, so the answer streams."""

    @property
    def settings(self) -> LLMParams:
        assert isinstance(self.params, LLMParams)
        return self.params

    def messages(self, context: RunContext, extra_system: str = "") -> list[dict[str, str]]:
        params = self.settings
        system = context.render(params.sys_prompt)
        if params.cite and context.state.reference.get("chunks"):
            system += CITE_PROMPT
        system += extra_system
        messages = [{"role": "system", "content": system}] if system.strip() else []
        messages += context.messages_of_history(params.message_history_window_size)
        for prompt in params.prompts:
            role = prompt.role if prompt.role in ("user", "assistant", "system") else "user"
            messages.append({"role": role, "content": context.render(prompt.content)})
        if not messages or messages[-1]["role"] != "user":
            messages.append({"role": "user", "content": context.query})
        return messages

    def run(self, context: RunContext) -> dict[str, Any]:
        params = self.settings
        chat = context.environment.chat_model(params.llm_id)
        options = params.generation_options()
        if params.output_structure:
            schema = json.dumps(params.output_structure, ensure_ascii=False)
            messages = self.messages(context, JSON_PROMPT + schema)
            answer = StreamedText(model_pieces(chat, messages, options)).text()
            return {
                "content": answer,
                "structured": parse_json_answer(answer, f"LLM {self.id}"),
            }
        pieces = StreamedText(model_pieces(chat, self.messages(context), options))
        if self.streams_to_message:
            return {"content": pieces}
        return {"content": pieces.text()}
