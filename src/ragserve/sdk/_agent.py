"""``Agent``: an agent (a canvas DSL) and its sessions. Ask through ``Session.ask``: a session
of an agent (it has an ``agent_id``) posts to the agent's completions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragserve.sdk._http import QueryValue
from ragserve.sdk._model import Base
from ragserve.sdk._session import AsyncSession, Session

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["Agent", "AsyncAgent", "agent_body", "agents_query"]


def agents_query(
    page: int, page_size: int, orderby: str, desc: bool, id: str | None, title: str | None
) -> dict[str, QueryValue]:
    return {
        "page": page,
        "page_size": page_size,
        "orderby": orderby,
        "desc": desc,
        "id": id,
        "title": title,
    }


def agent_body(
    title: str | None, description: str | None, dsl: dict[str, Any] | None
) -> dict[str, Any]:
    """The fields given (ragflow-sdk sends only those)."""
    body: dict[str, Any] = {}
    if title is not None:
        body["title"] = title
    if description is not None:
        body["description"] = description
    if dsl is not None:
        body["dsl"] = dsl
    return body


def agent_sessions_query(
    page: int, page_size: int, orderby: str, desc: bool, id: str | None
) -> dict[str, QueryValue]:
    return {"page": page, "page_size": page_size, "orderby": orderby, "desc": desc, "id": id}


class _AgentFields(Base):
    """ragflow-sdk's attributes; every other key the server sends (``title``, ``user_id``,
    ``update_time``...) is kept too. ``dsl`` is an object of the DSL's keys."""

    id: str | None = None
    avatar: str | None = None
    canvas_type: str | None = None
    description: str | None = None
    dsl: Any = None

    @property
    def _path(self) -> str:
        return f"/agents/{self.id}"


class Agent(_AgentFields):
    rag: RAGFlow

    def create_session(self, **kwargs: Any) -> Session:
        """Opens a session (the DSL is checked now); ``user_id`` names your end user."""
        user_id = kwargs.get("user_id")
        params: dict[str, QueryValue] | None = {"user_id": user_id} if user_id else None
        data = self.rag._http.call("POST", f"{self._path}/sessions", json=kwargs, params=params)
        return Session(self.rag, data)

    def list_sessions(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
    ) -> list[Session]:
        """The agent's sessions, a page at a time, newest first unless ``desc=False``."""
        query = agent_sessions_query(page, page_size, orderby, desc, id)
        data = self.rag._http.call("GET", f"{self._path}/sessions", params=query)
        return [Session(self.rag, session) for session in data]

    def delete_sessions(self, ids: list[str] | None = None) -> None:
        """Deletes these sessions; ``None`` deletes all of the agent's sessions."""
        self.rag._http.call("DELETE", f"{self._path}/sessions", json={"ids": ids})


class AsyncAgent(_AgentFields):
    """``Agent`` of ``AsyncRAGFlow``; the methods are the same, awaited."""

    rag: AsyncRAGFlow

    async def create_session(self, **kwargs: Any) -> AsyncSession:
        user_id = kwargs.get("user_id")
        params: dict[str, QueryValue] | None = {"user_id": user_id} if user_id else None
        data = await self.rag._http.call(
            "POST", f"{self._path}/sessions", json=kwargs, params=params
        )
        return AsyncSession(self.rag, data)

    async def list_sessions(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
    ) -> list[AsyncSession]:
        query = agent_sessions_query(page, page_size, orderby, desc, id)
        data = await self.rag._http.call("GET", f"{self._path}/sessions", params=query)
        return [AsyncSession(self.rag, session) for session in data]

    async def delete_sessions(self, ids: list[str] | None = None) -> None:
        await self.rag._http.call("DELETE", f"{self._path}/sessions", json={"ids": ids})
