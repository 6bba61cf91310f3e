"""``Chat``: a chat assistant over datasets, and its sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ragserve.sdk._http import QueryValue
from ragserve.sdk._model import Base, _Object, default
from ragserve.sdk._session import AsyncSession, Session

if TYPE_CHECKING:
    from ragserve.sdk._async_client import AsyncRAGFlow
    from ragserve.sdk._client import RAGFlow

__all__ = ["AsyncChat", "Chat"]

DEFAULT_PROMPT = (
    "You are an intelligent assistant. Your primary function is to answer questions based "
    "strictly on the provided knowledge base."
    "**Essential Rules:**"
    "- Your answer must be derived **solely** from this knowledge base: `{knowledge}`."
    "- **When information is available**: Summarize the content to give a detailed answer."
    "- **When information is unavailable**: Your response must contain this exact sentence: "
    "'The answer you are looking for is not found in the knowledge base!' "
    "- **Always consider** the entire conversation history."
)
"""The system prompt ragflow-sdk 0.23.1 sends when ``create_chat`` is given no prompt."""


class _ChatFields(Base):
    """ragflow-sdk's attributes; every other key the server sends is kept too."""

    class LLM(Base):
        """The model settings of a chat; ``model_name`` ``None`` is the server's default."""

        model_name: str | None = None
        temperature: float = 0.1
        top_p: float = 0.3
        presence_penalty: float = 0.4
        frequency_penalty: float = 0.7
        max_tokens: int = 512

    class Prompt(Base):
        """How a chat retrieves and prompts; ``{knowledge}`` in ``prompt`` is the chunks."""

        similarity_threshold: float = 0.2
        keywords_similarity_weight: float = 0.7
        top_n: int = 8
        top_k: int = 1024
        variables: list[dict[str, Any]] = default([{"key": "knowledge", "optional": True}])
        rerank_model: str = ""
        empty_response: str | None = None
        opener: str = "Hi! I'm your assistant. What can I do for you?"
        show_quote: bool = True
        prompt: str = DEFAULT_PROMPT

    _nested: ClassVar[Mapping[str, type[_Object]]] = {"llm": LLM, "prompt": Prompt}

    id: str = ""
    name: str = "assistant"
    avatar: str = "path/to/avatar"
    llm: LLM = default({})
    prompt: Prompt = default({})

    @property
    def _path(self) -> str:
        return f"/chats/{self.id}"


def sessions_query(
    page: int, page_size: int, orderby: str, desc: bool, id: str | None, name: str | None
) -> dict[str, QueryValue]:
    return {
        "page": page,
        "page_size": page_size,
        "orderby": orderby,
        "desc": desc,
        "id": id,
        "name": name,
    }


class Chat(_ChatFields):
    rag: RAGFlow

    def update(self, update_message: dict[str, Any]) -> None:
        """Changes the chat on the server (``name``, ``dataset_ids``, ``llm``, ``prompt``...);
        this object keeps its values (list the chat again to see the new ones)."""
        self.rag._http.call("PUT", self._path, json=update_message)

    def create_session(self, name: str = "New session") -> Session:
        """Opens a session; its ``messages`` start with the chat's opener."""
        data = self.rag._http.call("POST", f"{self._path}/sessions", json={"name": name})
        return Session(self.rag, data)

    def list_sessions(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[Session]:
        """The chat's sessions, a page at a time, newest first unless ``desc=False``."""
        query = sessions_query(page, page_size, orderby, desc, id, name)
        data = self.rag._http.call("GET", f"{self._path}/sessions", params=query)
        return [Session(self.rag, session) for session in data]

    def delete_sessions(self, ids: list[str] | None = None) -> None:
        """Deletes these sessions; ``None`` deletes all of the chat's sessions."""
        self.rag._http.call("DELETE", f"{self._path}/sessions", json={"ids": ids})


class AsyncChat(_ChatFields):
    """``Chat`` of ``AsyncRAGFlow``; the methods are the same, awaited."""

    rag: AsyncRAGFlow

    async def update(self, update_message: dict[str, Any]) -> None:
        await self.rag._http.call("PUT", self._path, json=update_message)

    async def create_session(self, name: str = "New session") -> AsyncSession:
        data = await self.rag._http.call("POST", f"{self._path}/sessions", json={"name": name})
        return AsyncSession(self.rag, data)

    async def list_sessions(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[AsyncSession]:
        query = sessions_query(page, page_size, orderby, desc, id, name)
        data = await self.rag._http.call("GET", f"{self._path}/sessions", params=query)
        return [AsyncSession(self.rag, session) for session in data]

    async def delete_sessions(self, ids: list[str] | None = None) -> None:
        await self.rag._http.call("DELETE", f"{self._path}/sessions", json={"ids": ids})
