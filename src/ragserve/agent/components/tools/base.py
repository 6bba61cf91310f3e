"""The tool contract: a component that is also a function an Agent's model may call
(``ToolBase`` in RAGFlow's terms).

A tool declares its ``arguments`` (the function's parameters: name, type, description,
whether required, the node's default such as ``{sys.query}``). As a canvas node it takes each
argument from its params (``params.<name>``, else ``params.inputs.<name>.value``, else the
default), with references rendered; as an Agent tool the model gives them, and those it
leaves out come from what the node's params set (not from the defaults). ``call`` does the
work and returns the outputs; the model reads ``formalized_content`` (else ``content``, else
the outputs as JSON).

Web search tools put their pages into the turn's references (``add_pages``), so an answer
may cite them as ``[ID:n]`` like dataset chunks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ragserve.agent import variables
from ragserve.agent.components.base import Component
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError
from ragserve.settings import Settings


@dataclass(frozen=True)
class ToolArgument:
    name: str
    description: str
    type: str = "string"
    required: bool = True
    default: Any = ""
    enum: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema


@dataclass(frozen=True)
class WebResult:
    """A page (or paper, repository...) a search found."""

    title: str
    url: str
    content: str
    score: float = 1.0


def names_a_variable(reference: str) -> bool:
    """A value written without braces is a reference when it names ``sys.``/``env.``, Begin's
    form or a component (RAGFlow's ids hold a colon: ``Agent:Fox@content``); anything else,
    such as the address ``a@example.com``, is text."""
    component = variables.component_of(reference)
    return component is None or component == "begin" or ":" in component


class Tool(Component):
    function_description: ClassVar[str] = ""
    arguments: ClassVar[tuple[ToolArgument, ...]] = ()
    default_base_url: ClassVar[str] = ""
    """The public service (web-API tools); ``agent_tool_base_urls`` replaces it."""

    def function(self, name: str) -> dict[str, Any]:
        """The OpenAI function the model sees under ``name``."""
        return {
            "type": "function",
            "function": {
                "name": name,
                "description": (self.params.description or "").strip() or self.function_description,
                "parameters": {
                    "type": "object",
                    "properties": {arg.name: arg.schema() for arg in self.arguments},
                    "required": [arg.name for arg in self.arguments if arg.required],
                },
            },
        }

    def node_value(
        self, context: RunContext, argument: ToolArgument, *, with_default: bool = True
    ) -> Any:
        """The argument as the node's params give it (else its default), references
        resolved."""
        extra = self.params.model_extra or {}
        value = extra.get(argument.name, getattr(self.params, argument.name, None))
        inputs = self.params.inputs
        if value in (None, "") and isinstance(inputs, dict):
            entry = inputs.get(argument.name)
            value = entry.get("value") if isinstance(entry, dict) else None
        if value in (None, "") and with_default:
            value = argument.default
        if isinstance(value, str):
            reference = variables.bare_reference(value)
            if reference and "{" not in value and names_a_variable(reference):
                return context.value(reference)
            return context.render(value)
        return value

    def arguments_for(
        self, context: RunContext, given: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A node's arguments (``given`` None), or a model's completed by what the node's
        params set (not by the defaults: a model that leaves ``to_email`` out does not mail
        the question)."""
        if given is None:
            return {arg.name: self.node_value(context, arg) for arg in self.arguments}
        return {
            arg.name: given[arg.name]
            if given.get(arg.name) not in (None, "")
            else self.node_value(context, arg, with_default=False)
            for arg in self.arguments
        }

    def call(self, context: RunContext, arguments: dict[str, Any]) -> dict[str, Any]:
        """The outputs for these arguments; raises ``ComponentError`` on failure."""
        raise NotImplementedError

    def run(self, context: RunContext) -> dict[str, Any]:
        return self.call(context, self.arguments_for(context))

    @staticmethod
    def result_text(outputs: dict[str, Any]) -> str:
        """What the model reads back from a call."""
        for key in ("formalized_content", "content"):
            if isinstance(outputs.get(key), str) and outputs[key].strip():
                return str(outputs[key])
        shown = {k: v for k, v in outputs.items() if not k.startswith("_")}
        return json.dumps(shown, ensure_ascii=False, default=str)

    # what the settings say for this tool

    def settings(self, context: RunContext) -> Settings:
        return context.environment.settings

    def base_url(self, context: RunContext) -> str:
        configured = self.settings(context).agent_tool_base_urls.get(self.component_name)
        return (configured or self.default_base_url).rstrip("/")

    def api_key(self, context: RunContext, given: Any) -> str:
        """The node's key, else the one configured for this tool; a missing key fails."""
        if isinstance(given, str) and given.strip():
            return given.strip()
        configured = self.settings(context).agent_tool_api_keys.get(self.component_name)
        if configured is not None and configured.get_secret_value().strip():
            return configured.get_secret_value().strip()
        raise ComponentError(f"{self.component_name} {self.id}: an API key is required.")

    def text_argument(self, arguments: dict[str, Any], name: str) -> str:
        value = arguments.get(name)
        return variables.as_text(value).strip() if value is not None else ""


def add_pages(context: RunContext, results: list[WebResult], source: str) -> dict[str, Any]:
    """Put found pages into the turn's references; the outputs of a search tool:
    ``formalized_content`` (each page under its citation ID) and ``json`` (the pages)."""
    chunks, doc_aggs = [], []
    for result in results:
        content = result.content.strip()[:10_000]
        if not content:
            continue
        chunk_id = hashlib.sha1(f"{result.url}\n{content}".encode()).hexdigest()  # noqa: S324
        title = result.title or result.url
        chunks.append(
            {
                "id": chunk_id,
                "content": content,
                "document_id": chunk_id,
                "document_name": title,
                "dataset_id": "",
                "image_id": "",
                "positions": [],
                "similarity": result.score,
                "url": result.url,
                "source": source,
            }
        )
        doc_aggs.append({"doc_name": title, "doc_id": chunk_id, "count": 1})
    found = [{"title": r.title, "url": r.url, "content": r.content} for r in results]
    if not chunks:
        return {"formalized_content": "", "json": found}
    keyed = context.add_reference(chunks, doc_aggs)
    blocks = [
        f"ID: {key}\nTitle: {chunk['document_name']}\nURL: {chunk['url']}\n"
        f"Content: {chunk['content']}"
        for key, chunk in keyed.items()
    ]
    return {"formalized_content": "\n\n".join(blocks), "json": found}
