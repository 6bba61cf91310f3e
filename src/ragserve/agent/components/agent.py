"""Agent: an LLM that may call tools (OpenAI function calling, through LiteLLM) before it
answers. ``tools`` holds component configs ``{component_name, name, params}``: a Retrieval
(searches its datasets for the query the model writes; the passages join the turn's
references, so the answer can cite them as ``[ID:n]``), another Agent (a sub-agent: it gets
the model's ``user_prompt`` as its question and answers with its own tools) or one of the
tools of ``components/tools`` (ExeSQL, CodeExec, web searches...: each declares its arguments).

Each round the model either answers or asks for tool calls; the calls run and their results
go back to it (a tool that fails says so: ``The tool failed: …``). After ``max_rounds``
rounds of calls the model is asked to answer without tools (``tool_choice: none``). Every
round streams: when a Message follows, the answer reaches the client as the model writes it.
Outputs: ``content`` (the answer), ``structured`` (with ``output_structure``) and
``use_tools`` (each call: ``name``, ``arguments``, ``results``).

``mcp`` adds tools of the tenant's registered MCP servers (``/v1/mcp_server/*``):
``[{"mcp_id", "tools": {name: tool}}]``, each tool as the registry lists it (``description``,
``inputSchema``; one with ``enabled: false`` is left out). The model sees each under its own
name (made unique, as a function name must be); a call goes to the server through the
environment, with the model's arguments as they are."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragserve.agent.components.base import ComponentParams
from ragserve.agent.components.llm import (
    CITE_PROMPT,
    JSON_PROMPT,
    LLM,
    LLMParams,
    parse_json_answer,
)
from ragserve.agent.components.retrieval import Retrieval, RetrievalParams
from ragserve.agent.components.tools import TOOLS, Tool
from ragserve.agent.context import RunContext
from ragserve.agent.errors import ComponentError, RunTimeout
from ragserve.agent.streaming import Piece, StreamedText
from ragserve.errors import RagserveError
from ragserve.models.chat import ChatModel, ToolCall
from ragserve.rag.think import ThinkSplitter
from ragserve.schemas.agent_dsl import ComponentNode, ComponentObject

TOOL_COMPONENTS = ("Retrieval", "Agent", *TOOLS)
"""The components an Agent can call as tools today."""
_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
NOTHING_FOUND = "Nothing was found."


class ToolConfig(BaseModel):
    """One entry of an Agent's ``tools``."""

    model_config = ConfigDict(extra="allow")

    component_name: str
    name: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class McpConfig(BaseModel):
    """One entry of an Agent's ``mcp``: a registered server and the tools it may call."""

    model_config = ConfigDict(extra="allow")

    mcp_id: str = Field(min_length=1)
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict)


class AgentParams(LLMParams):
    tools: list[ToolConfig] = Field(default_factory=list)
    mcp: list[McpConfig] = Field(default_factory=list)
    max_rounds: int = Field(5, ge=0, le=50, description="Rounds of tool calls before answering.")
    user_prompt: str = ""
    """What a sub-agent's caller should pass (RAGFlow's UI writes it; shown as a hint)."""

    @model_validator(mode="after")
    def _tools_can_run(self) -> AgentParams:
        for number, tool in enumerate(self.tools):
            if tool.component_name not in TOOL_COMPONENTS:
                raise ValueError(
                    f"tool {number} (`{tool.component_name}`) cannot be an Agent tool yet; "
                    f"tools may be: {', '.join(TOOL_COMPONENTS)}"
                )
            params_class = _params_class(tool.component_name)
            try:
                params_class.model_validate(tool.params)
            except ValidationError as error:
                first = error.errors(include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"]) or "(all)"
                raise ValueError(f"tool {number} parameter `{where}`: {first['msg']}") from None
        return self


def _params_class(component_name: str) -> type[ComponentParams]:
    if component_name in TOOLS:
        return TOOLS[component_name].Params
    return AgentParams if component_name == "Agent" else RetrievalParams


def _function_name(wanted: str, taken: set[str]) -> str:
    base = _NAME.sub("_", wanted).strip("_")[:56] or "tool"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def _mcp_function(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """An MCP tool as an OpenAI function: its description and input schema as listed."""
    schema = meta.get("inputSchema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        schema = {"type": "object", "properties": {}}
    description = meta.get("description")
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description if isinstance(description, str) else "",
            "parameters": schema,
        },
    }


class Agent(LLM):
    component_name = "Agent"
    Params = AgentParams

    def __init__(self, component_id: str, params: ComponentParams, node: ComponentNode) -> None:
        super().__init__(component_id, params, node)
        self.tools: dict[str, Retrieval | Agent | Tool] = {}
        self.functions: list[dict[str, Any]] = []
        self.mcp_tools: dict[str, tuple[str, str]] = {}
        """function name -> (MCP server id, the tool's own name)"""
        taken: set[str] = set()
        for tool in self.settings_of_agent.tools:
            name = _function_name(tool.name or tool.component_name, taken)
            tool_node = ComponentNode(
                obj=ComponentObject(component_name=tool.component_name, params=tool.params)
            )
            tool_id = f"{component_id}::{name}"
            if tool.component_name in TOOLS:
                tool_class = TOOLS[tool.component_name]
                params = tool_class.Params.model_validate(tool.params)
                self.tools[name] = tool_class(tool_id, params, tool_node)
            elif tool.component_name == "Agent":
                self.tools[name] = Agent(
                    tool_id, AgentParams.model_validate(tool.params), tool_node
                )
            else:
                retrieval_params = RetrievalParams.model_validate(tool.params)
                self.tools[name] = Retrieval(tool_id, retrieval_params, tool_node)
            self.functions.append(self._function(name, self.tools[name]))
        for server in self.settings_of_agent.mcp:
            for tool_name, meta in server.tools.items():
                if meta.get("enabled") is False:
                    continue
                name = _function_name(tool_name, taken)
                self.mcp_tools[name] = (server.mcp_id, tool_name)
                self.functions.append(_mcp_function(name, meta))

    @property
    def settings_of_agent(self) -> AgentParams:
        assert isinstance(self.params, AgentParams)
        return self.params

    @staticmethod
    def _function(name: str, tool: Retrieval | Agent | Tool) -> dict[str, Any]:
        if isinstance(tool, Tool):
            return tool.function(name)
        described = (tool.params.description or "").strip()
        if isinstance(tool, Agent):
            hint = tool.settings_of_agent.user_prompt.strip()
            description = described or "An assistant that answers a request."
            parameter = {
                "type": "string",
                "description": hint or "The request for this assistant, written in full.",
            }
            key = "user_prompt"
        else:
            description = described or (
                "Searches the knowledge base for passages relevant to a query."
            )
            parameter = {"type": "string", "description": "What to search for."}
            key = "query"
        return {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {key: parameter},
                    "required": [key],
                },
            },
        }

    def _cites(self, context: RunContext) -> bool:
        has_search = any(isinstance(tool, Retrieval) for tool in self.tools.values())
        return self.settings_of_agent.cite and (
            has_search or bool(context.state.reference.get("chunks"))
        )

    def _system_extra(self, context: RunContext, *, by_llm: bool) -> str:
        """Instructions added to the system prompt (``by_llm``: ``LLM.messages`` already adds
        the citation prompt when passages were retrieved before)."""
        params = self.settings_of_agent
        extra = ""
        if self._cites(context) and not (by_llm and context.state.reference.get("chunks")):
            extra += CITE_PROMPT
        if params.output_structure:
            extra += JSON_PROMPT + json.dumps(params.output_structure, ensure_ascii=False)
        return extra

    def _call(self, context: RunContext, call: ToolCall) -> tuple[Any, str]:
        """The arguments the model gave and the tool's result as text for the model."""
        tool = self.tools.get(call.name)
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = {}
        if not isinstance(arguments, dict):
            arguments = {}
        mcp = self.mcp_tools.get(call.name)
        if tool is None and mcp is None:
            return arguments, f"There is no tool named {call.name}."
        try:
            if mcp is not None:
                mcp_id, tool_name = mcp
                return arguments, context.environment.call_mcp_tool(mcp_id, tool_name, arguments)
            if isinstance(tool, Tool):
                outputs = tool.call(context, tool.arguments_for(context, arguments))
                return arguments, tool.result_text(outputs) or NOTHING_FOUND
            if isinstance(tool, Agent):
                request = str(
                    arguments.get("user_prompt") or arguments.get("query") or context.query
                )
                return arguments, tool.answer(context, request)["content"] or "(no answer)"
            assert tool is not None
            query = str(arguments.get("query") or context.query)
            found = tool.search(context, query)
        except RunTimeout:
            raise
        except RagserveError as failure:  # the model hears of it and answers without
            return arguments, f"The tool failed: {failure}"
        return arguments, str(found["formalized_content"] or NOTHING_FOUND)

    def _messages(self, context: RunContext, request: str | None) -> list[dict[str, Any]]:
        params = self.settings_of_agent
        if request is None:
            return list(self.messages(context, self._system_extra(context, by_llm=True)))
        system = context.render(params.sys_prompt) + self._system_extra(context, by_llm=False)
        messages: list[dict[str, Any]] = (
            [{"role": "system", "content": system}] if system.strip() else []
        )
        messages.append({"role": "user", "content": request})
        return messages

    def rounds(
        self, context: RunContext, request: str | None, used: list[dict[str, Any]]
    ) -> Iterator[Piece]:
        """The model's text as it comes, through every round: a round either ends with tool
        calls (they run, their results go back to the model and ``used`` gets them) or is the
        answer. ``request`` is a sub-agent's question (its caller's ``user_prompt``); a node
        uses its prompts and the conversation."""
        params = self.settings_of_agent
        chat: ChatModel = context.environment.chat_model(params.llm_id)
        options = params.generation_options()
        messages = self._messages(context, request)
        for number in range(params.max_rounds + 1):
            context.check_deadline()
            last = number == params.max_rounds or not self.functions
            calls: list[ToolCall] = []
            said: list[str] = []
            splitter = ThinkSplitter()
            round_options = {**options, "tool_choice": "none"} if last else options
            for item in chat.stream_with_tools(messages, self.functions, round_options):
                if isinstance(item, ToolCall):
                    calls.append(item)
                    continue
                if item.reasoning:
                    yield Piece(item.reasoning, reasoning=True)
                for reasoning, text in splitter.feed(item.text) if item.text else []:
                    said += [] if reasoning else [text]
                    yield Piece(text, reasoning)
            for reasoning, text in splitter.flush():
                said += [] if reasoning else [text]
                yield Piece(text, reasoning)
            if not calls or last:
                return
            messages.append(
                {
                    "role": "assistant",
                    "content": "".join(said) or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for call in calls
                    ],
                }
            )
            for call in calls:
                arguments, result = self._call(context, call)
                used.append({"name": call.name, "arguments": arguments, "results": result})
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})

    def answer(self, context: RunContext, request: str | None = None) -> dict[str, Any]:
        """The rounds read to the end: ``content``, ``use_tools`` (and ``structured``)."""
        used: list[dict[str, Any]] = []
        text = StreamedText(self.rounds(context, request, used)).text()
        outputs: dict[str, Any] = {"content": text, "use_tools": used}
        if self.settings_of_agent.output_structure:
            outputs["structured"] = parse_json_answer(text, f"Agent {self.id}")
        return outputs

    def run(self, context: RunContext) -> dict[str, Any]:
        if not self.functions:
            return super().run(context)  # no tools: an LLM (streams to a Message)
        if self.streams_to_message and not self.settings_of_agent.output_structure:
            used: list[dict[str, Any]] = []  # filled while the Message streams
            return {"content": StreamedText(self.rounds(context, None, used)), "use_tools": used}
        outputs = self.answer(context)
        if not str(outputs["content"]).strip():
            raise ComponentError(f"Agent {self.id}: the model gave no answer.")
        return outputs
