"""Agents and their sessions (spec ragflow-api 2.9, ragflow-more A.4, A.5): create, list,
update, delete; sessions with their own DSL copy.

An agent is reachable only by its tenant (another tenant's id behaves as an unknown one).
Every create and every DSL update stores a version of the DSL; the newest ``KEPT_VERSIONS``
of an agent are kept. Deleting an agent deletes its sessions and versions (RAGFlow leaves them
behind, unreachable). The DSL is checked when a session starts or a run begins, not when it
is stored, as RAGFlow does: an agent may be saved while it is being built.
"""

from __future__ import annotations

import copy
import hashlib
import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ragserve.agent import dsl as agent_dsl
from ragserve.agent.components.begin import DEFAULT_PROLOGUE
from ragserve.db.models import Agent, AgentSession, AgentVersion
from ragserve.errors import DataError, OperatingError
from ragserve.schemas.agent_dsl import BEGIN, DEFAULT_GLOBALS
from ragserve.schemas.agents import (
    AgentPublic,
    AgentSessionCreated,
    AgentSessionPublic,
    CreateAgent,
    ListAgents,
    ListAgentSessions,
    SessionMessage,
    UpdateAgent,
)
from ragserve.services.batch import BatchOutcome
from ragserve.services.chats import resolve_batch
from ragserve.services.tenancy import Caller, get_owned, scoped
from ragserve.timeutil import rfc1123

KEPT_VERSIONS = 20
AGENT_CANVAS = "agent_canvas"
NOT_OWNER = "Only owner of canvas authorized for this operation."
STATE_KEYS = ("history", "path", "retrieval", "memory")


def title_key(title: str) -> str:
    return hashlib.sha256(title.encode()).hexdigest()


def public(row: Agent) -> AgentPublic:
    return AgentPublic(
        id=row.id,
        avatar=row.avatar,
        user_id=row.tenant_id,
        title=row.title,
        permission=row.permission,
        description=row.description,
        canvas_type=row.canvas_type,
        canvas_category=row.canvas_category,
        dsl=row.dsl or {},
        create_time=row.create_time,
        create_date=rfc1123(row.create_date) or "",
        update_time=row.update_time,
        update_date=rfc1123(row.update_date) or "",
    )


def owned_agent(session: Session, caller: Caller, agent_id: str) -> Agent | None:
    """The caller's agent with this id (``None`` for another tenant's)."""
    return get_owned(session, Agent, agent_id, caller)


def list_agents(session: Session, caller: Caller, query: ListAgents) -> list[AgentPublic]:
    statement = scoped(Agent, caller).where(Agent.canvas_category == AGENT_CANVAS)
    if query.id is not None:
        statement = statement.where(Agent.id == query.id)
    if query.title is not None:
        statement = statement.where(Agent.title_key == title_key(query.title))
    column = Agent.create_time if query.orderby == "create_time" else Agent.update_time
    order = (column.desc(), Agent.id.desc()) if query.desc else (column.asc(), Agent.id.asc())
    rows = session.scalars(
        statement.order_by(*order).offset((query.page - 1) * query.page_size).limit(query.page_size)
    ).all()
    if not rows and (query.id is not None or query.title is not None):
        raise DataError("The agent doesn't exist.")
    return [public(row) for row in rows]


def _title_taken(session: Session, caller: Caller, title: str, but: str | None = None) -> bool:
    statement = scoped(Agent, caller).where(Agent.title_key == title_key(title))
    if but is not None:
        statement = statement.where(Agent.id != but)
    return session.scalars(statement.limit(1)).first() is not None


def _add_version(session: Session, agent: Agent) -> None:
    """Store the agent's DSL as a version; keep the newest ``KEPT_VERSIONS``."""
    session.add(
        AgentVersion(
            agent_id=agent.id,
            title=f"{agent.title}_{time.strftime('%Y_%m_%d_%H_%M_%S')}",
            dsl=agent.dsl,
        )
    )
    session.flush()
    old = session.scalars(
        select(AgentVersion.id)
        .where(AgentVersion.agent_id == agent.id)
        .order_by(AgentVersion.create_time.desc(), AgentVersion.id.desc())
        .offset(KEPT_VERSIONS)
    ).all()
    if old:
        session.execute(delete(AgentVersion).where(AgentVersion.id.in_(old)))


def create_agent(session: Session, caller: Caller, body: CreateAgent) -> Agent:
    if _title_taken(session, caller, body.title):
        raise DataError(f"Agent with title {body.title} already exists.")
    agent = Agent(
        tenant_id=caller.tenant_id,
        title=body.title,
        title_key=title_key(body.title),
        description=body.description,
        avatar=body.avatar,
        permission=body.permission,
        canvas_type=body.canvas_type,
        canvas_category=AGENT_CANVAS,
        dsl=body.dsl,
    )
    session.add(agent)
    session.flush()
    _add_version(session, agent)
    return agent


def update_agent(session: Session, caller: Caller, agent_id: str, body: UpdateAgent) -> None:
    """Change the given fields (null ones stay); a new DSL is stored as a version too."""
    agent = owned_agent(session, caller, agent_id)
    if agent is None:
        raise OperatingError(NOT_OWNER, data=False)
    if body.title is not None and body.title != agent.title:
        if _title_taken(session, caller, body.title, but=agent.id):
            raise DataError(f"Agent with title {body.title} already exists.")
        agent.title = body.title
        agent.title_key = title_key(body.title)
    for name in ("description", "avatar", "permission", "canvas_type"):
        value = getattr(body, name)
        if value is not None:
            setattr(agent, name, value)
    if body.dsl is not None:
        agent.dsl = body.dsl
        session.flush()
        _add_version(session, agent)
    session.flush()


def delete_agent(session: Session, caller: Caller, agent_id: str) -> None:
    agent = owned_agent(session, caller, agent_id)
    if agent is None:
        raise OperatingError(NOT_OWNER, data=False)
    session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    session.execute(delete(AgentVersion).where(AgentVersion.agent_id == agent.id))
    session.delete(agent)
    session.flush()


# --- sessions --------------------------------------------------------------------------------


def fresh_dsl(dsl: dict[str, Any]) -> dict[str, Any]:
    """The agent's DSL checked, with the state of a new conversation (RAGFlow's
    ``Canvas.reset``): no history, path, references or component outputs."""
    agent_dsl.load(dsl)
    fresh = copy.deepcopy(dsl)
    for key in STATE_KEYS:
        fresh[key] = []
    globals_ = {**DEFAULT_GLOBALS}
    globals_.update(
        {k: v for k, v in (fresh.get("globals") or {}).items() if not k.startswith("sys.")}
    )
    fresh["globals"] = globals_
    fresh.pop("paused_at", None)
    for node in (fresh.get("components") or {}).values():
        params = node.get("obj", {}).get("params")
        if isinstance(params, dict) and isinstance(params.get("outputs"), dict):
            params["outputs"] = {
                name: ({**item, "value": None} if isinstance(item, dict) else None)
                for name, item in params["outputs"].items()
            }
    return fresh


def prologue(dsl: dict[str, Any]) -> str:
    params = dsl["components"][BEGIN]["obj"].get("params") or {}
    value = params.get("prologue", DEFAULT_PROLOGUE)
    return value if isinstance(value, str) else ""


def new_session(session: Session, agent: Agent, user_id: str) -> AgentSession:
    """A new conversation with the agent (its DSL checked): the prologue is its first message."""
    dsl = fresh_dsl(agent.dsl or {})
    opening = prologue(dsl)
    row = AgentSession(
        agent_id=agent.id,
        tenant_id=agent.tenant_id,
        user_id=user_id,
        messages=[{"role": "assistant", "content": opening}] if opening else [],
        reference=[],
        dsl=dsl,
    )
    session.add(row)
    session.flush()
    return row


def create_session(
    session: Session, caller: Caller, agent_id: str, user_id: str | None
) -> AgentSessionCreated:
    agent = owned_agent(session, caller, agent_id)
    if agent is None:
        raise DataError("Agent not found.")
    row = new_session(session, agent, user_id or "")
    return AgentSessionCreated(
        id=row.id,
        agent_id=row.agent_id,
        user_id=row.user_id,
        message=[SessionMessage.model_validate(m) for m in row.messages],
        source=row.source,
        dsl=row.dsl,
    )


def session_public(row: AgentSession, with_dsl: bool) -> AgentSessionPublic:
    messages = []
    for message in row.messages or []:
        shown = {k: v for k, v in message.items() if k != "prompt"}
        messages.append(SessionMessage.model_validate(shown))
    return AgentSessionPublic(
        id=row.id,
        agent_id=row.agent_id,
        user_id=row.user_id,
        messages=messages,
        source=row.source,
        dsl=row.dsl if with_dsl else None,
        tokens=row.tokens,
        duration=row.duration,
        round=row.round,
        thumb_up=row.thumb_up,
        errors=row.errors,
        create_time=row.create_time,
        create_date=rfc1123(row.create_date) or "",
        update_time=row.update_time,
        update_date=rfc1123(row.update_date) or "",
    )


def list_sessions(
    session: Session, caller: Caller, agent_id: str, query: ListAgentSessions
) -> list[AgentSessionPublic]:
    if owned_agent(session, caller, agent_id) is None:
        raise DataError(f"You don't own the agent {agent_id}.")
    statement = select(AgentSession).where(
        AgentSession.agent_id == agent_id, AgentSession.tenant_id == caller.tenant_id
    )
    if query.id is not None:
        statement = statement.where(AgentSession.id == query.id)
    if query.user_id is not None:
        statement = statement.where(AgentSession.user_id == query.user_id)
    column = (
        AgentSession.create_time if query.orderby == "create_time" else AgentSession.update_time
    )
    order = (
        (column.desc(), AgentSession.id.desc())
        if query.desc
        else (column.asc(), AgentSession.id.asc())
    )
    rows = session.scalars(
        statement.order_by(*order).offset((query.page - 1) * query.page_size).limit(query.page_size)
    )
    return [session_public(row, query.dsl) for row in rows]


def delete_sessions(
    session: Session, caller: Caller, agent_id: str, ids: list[str] | None
) -> BatchOutcome:
    """Delete the named sessions of the agent (none named: all of them)."""
    if owned_agent(session, caller, agent_id) is None:
        raise DataError(f"You don't own the agent {agent_id}")
    existing = session.scalars(
        select(AgentSession.id).where(
            AgentSession.agent_id == agent_id, AgentSession.tenant_id == caller.tenant_id
        )
    ).all()
    if not existing:
        raise DataError(f"Agent {agent_id} has no sessions")
    found, outcome = resolve_batch(
        ids, existing, "session", lambda sid: f"The agent doesn't own the session {sid}"
    )
    session.execute(delete(AgentSession).where(AgentSession.id.in_(found)))
    return outcome
