"""The chat and agent widgets' own reads (``GET /chatbots/{id}/info``, ``GET /agentbots/{id}/
inputs``, spec ragflow-more B.5). Their completions are the chat's and the agent's own
(``services.chat_turns``, ``services.agent_runs``) run for the beta token's tenant.

A widget reaches only the objects of its beta token's tenant: another tenant's chat or agent
answers as a missing one (RAGFlow looks these ids up without a tenant check).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ragserve.agent import dsl as agent_dsl
from ragserve.errors import DataError
from ragserve.schemas.agent_dsl import BEGIN
from ragserve.schemas.bots import AgentbotInputs, ChatbotInfo
from ragserve.services.agents import owned_agent, prologue
from ragserve.services.chats import live_chat
from ragserve.services.tenancy import Caller


def chatbot_info(session: Session, caller: Caller, chat_id: str) -> ChatbotInfo:
    """The chat's name, icon and opener, and whether it searches the web."""
    chat = live_chat(session, caller, chat_id)
    if chat is None:
        raise DataError(f"Can't find dialog by ID: {chat_id}")
    config = chat.prompt_config or {}
    tavily = config.get("tavily_api_key")
    return ChatbotInfo(
        title=chat.name,
        avatar=chat.avatar,
        prologue=str(config.get("prologue") or ""),
        has_tavily_key=isinstance(tavily, str) and bool(tavily.strip()),
    )


def agentbot_inputs(session: Session, caller: Caller, agent_id: str) -> AgentbotInputs:
    """The agent's title, avatar, Begin form, prologue and mode (its DSL must be valid)."""
    agent = owned_agent(session, caller, agent_id)
    if agent is None:
        raise DataError(f"Can't find agent by ID: {agent_id}")
    dsl = agent.dsl or {}
    agent_dsl.load(dsl)  # a DSL that cannot run is refused as a run would refuse it
    params: dict[str, Any] = dsl["components"][BEGIN]["obj"].get("params") or {}
    form = params.get("inputs")
    return AgentbotInputs(
        title=agent.title,
        avatar=agent.avatar,
        inputs=form if isinstance(form, dict) else {},
        prologue=prologue(dsl),
        mode=str(params.get("mode") or "conversational"),
    )
