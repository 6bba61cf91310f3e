"""``Memory``: an agent memory and its messages (RAGFlow 0.23's memory API; ragflow-sdk's
repository methods, not yet in its PyPI release). A message is addressed by its number in the
memory (``message_id``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragserve.sdk._http import QueryValue
from ragserve.sdk._model import Base, default

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = [
    "AsyncMemory",
    "Memory",
    "memories_query",
    "memory_body",
    "message_body",
    "recent_query",
    "search_query",
]


def memory_body(name: str, memory_type: list[str], embd_id: str, llm_id: str) -> dict[str, Any]:
    return {"name": name, "memory_type": memory_type, "embd_id": embd_id, "llm_id": llm_id}


def memories_query(
    page: int,
    page_size: int,
    tenant_id: str | list[str] | None,
    memory_type: str | list[str] | None,
    storage_type: str | None,
    keywords: str | None,
) -> dict[str, QueryValue]:
    return {
        "page": page,
        "page_size": page_size,
        "tenant_id": tenant_id,
        "memory_type": memory_type,
        "storage_type": storage_type,
        "keywords": keywords,
    }


def message_body(
    memory_id: list[str],
    agent_id: str,
    session_id: str,
    user_input: str,
    agent_response: str,
    user_id: str,
) -> dict[str, Any]:
    return {
        "memory_id": memory_id,
        "agent_id": agent_id,
        "session_id": session_id,
        "user_input": user_input,
        "agent_response": agent_response,
        "user_id": user_id,
    }


def search_query(
    query: str,
    memory_id: list[str],
    agent_id: str | None,
    session_id: str | None,
    similarity_threshold: float,
    keywords_similarity_weight: float,
    top_n: int,
) -> dict[str, QueryValue]:
    return {
        "query": query,
        "memory_id": memory_id,
        "agent_id": agent_id,
        "session_id": session_id,
        "similarity_threshold": similarity_threshold,
        "keywords_similarity_weight": keywords_similarity_weight,
        "top_n": top_n,
    }


def recent_query(
    memory_id: list[str], agent_id: str | None, session_id: str | None, limit: int
) -> dict[str, QueryValue]:
    return {"memory_id": memory_id, "agent_id": agent_id, "session_id": session_id, "limit": limit}


def _messages_query(
    agent_id: str | list[str] | None, keywords: str | None, page: int, page_size: int
) -> dict[str, QueryValue]:
    return {"agent_id": agent_id, "keywords": keywords, "page": page, "page_size": page_size}


class _MemoryFields(Base):
    """ragflow-sdk's attributes (other keys the server sends are dropped, as there)."""

    _keep_unknown = False

    id: str = ""
    name: str = ""
    avatar: str | None = None
    tenant_id: str | None = None
    owner_name: str = ""
    memory_type: list[str] = default(["raw"])
    storage_type: str = "table"
    embd_id: str = ""
    llm_id: str = ""
    permissions: str = "me"
    description: str | None = ""
    memory_size: int = 5 * 1024 * 1024
    forgetting_policy: str = "FIFO"
    temperature: float = 0.5
    system_prompt: str = ""
    user_prompt: str = ""

    @property
    def _path(self) -> str:
        return f"/memories/{self.id}"

    def _message_path(self, message_id: int) -> str:
        return f"/messages/{self.id}:{message_id}"


class Memory(_MemoryFields):
    rag: RAGFlow

    def update(self, update_dict: dict[str, Any]) -> Memory:
        """Changes the settings given (``name``, ``memory_size``, ``temperature``...)."""
        self._merge(self.rag._http.call("PUT", self._path, json=update_dict) or {})
        return self

    def get_config(self) -> Memory:
        """Reads the memory again from the server."""
        self._merge(self.rag._http.call("GET", f"{self._path}/config") or {})
        return self

    def list_memory_messages(
        self,
        agent_id: str | list[str] | None = None,
        keywords: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """``{"messages": {"message_list": [...], "total_count": n}, "storage_type": ...}``:
        the raw turns, newest first, each with its extracted items and extraction task."""
        query = _messages_query(agent_id, keywords, page, page_size)
        found: dict[str, Any] = self.rag._http.call("GET", self._path, params=query)
        return found

    def forget_message(self, message_id: int) -> bool:
        self.rag._http.call("DELETE", self._message_path(message_id), json={})
        return True

    def update_message_status(self, message_id: int, status: bool) -> bool:
        self.rag._http.call("PUT", self._message_path(message_id), json={"status": status})
        return True

    def get_message_content(self, message_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.rag._http.call(
            "GET", f"{self._message_path(message_id)}/content"
        )
        return found


class AsyncMemory(_MemoryFields):
    """``Memory`` of ``AsyncRAGFlow``; the methods are the same, awaited."""

    rag: AsyncRAGFlow

    async def update(self, update_dict: dict[str, Any]) -> AsyncMemory:
        self._merge(await self.rag._http.call("PUT", self._path, json=update_dict) or {})
        return self

    async def get_config(self) -> AsyncMemory:
        self._merge(await self.rag._http.call("GET", f"{self._path}/config") or {})
        return self

    async def list_memory_messages(
        self,
        agent_id: str | list[str] | None = None,
        keywords: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        query = _messages_query(agent_id, keywords, page, page_size)
        found: dict[str, Any] = await self.rag._http.call("GET", self._path, params=query)
        return found

    async def forget_message(self, message_id: int) -> bool:
        await self.rag._http.call("DELETE", self._message_path(message_id), json={})
        return True

    async def update_message_status(self, message_id: int, status: bool) -> bool:
        await self.rag._http.call("PUT", self._message_path(message_id), json={"status": status})
        return True

    async def get_message_content(self, message_id: int) -> dict[str, Any]:
        found: dict[str, Any] = await self.rag._http.call(
            "GET", f"{self._message_path(message_id)}/content"
        )
        return found
