"""``AsyncRAGFlow``: ``RAGFlow`` for asyncio. The same methods and arguments, awaited; they
return the async twins (``AsyncDataSet``, ``AsyncChat``...), whose methods are awaited too."""

from __future__ import annotations

from typing import Any

import httpx

from ragserve.sdk._agent import AsyncAgent, agent_body, agents_query
from ragserve.sdk._chat import AsyncChat, Chat
from ragserve.sdk._chunk import AsyncChunk
from ragserve.sdk._client import chat_body, dataset_body, first_dataset, list_query, retrieval_body
from ragserve.sdk._dataset import AsyncDataSet, DataSet
from ragserve.sdk._files import AsyncFileMethods
from ragserve.sdk._http import DEFAULT_TIMEOUT, AsyncHTTP, Retry, TimeoutTypes, data_of
from ragserve.sdk._memory import (
    AsyncMemory,
    memories_query,
    memory_body,
    message_body,
    recent_query,
    search_query,
)

__all__ = ["AsyncRAGFlow"]


class AsyncRAGFlow(AsyncFileMethods):
    """The asyncio client; the arguments are ``RAGFlow``'s, ``http_client`` an
    ``httpx.AsyncClient``. Close it with ``await rag.aclose()`` or ``async with``."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        version: str = "v1",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        retries: int | Retry = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        retry = retries if isinstance(retries, Retry) else Retry(retries=retries)
        self._http = AsyncHTTP(base_url, api_key, version, timeout=timeout, retry=retry,
                               http_client=http_client)  # fmt: skip
        self.user_key = api_key
        self.api_url = self._http.api_url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRAGFlow:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create_dataset(
        self,
        name: str,
        avatar: str | None = None,
        description: str | None = None,
        embedding_model: str | None = None,
        permission: str = "me",
        chunk_method: str = "naive",
        parser_config: DataSet.ParserConfig | None = None,
    ) -> AsyncDataSet:
        body = dataset_body(name, avatar, description, embedding_model, permission,
                            chunk_method, parser_config)  # fmt: skip
        return AsyncDataSet(self, await self._http.call("POST", "/datasets", json=body))

    async def delete_datasets(self, ids: list[str] | None = None) -> None:
        await self._http.call("DELETE", "/datasets", json={"ids": ids})

    async def get_dataset(self, name: str) -> AsyncDataSet:
        return first_dataset(await self.list_datasets(name=name), name)

    async def list_datasets(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[AsyncDataSet]:
        query = list_query(page, page_size, orderby, desc, id, name)
        listed = await self._http.call("GET", "/datasets", params=query)
        return [AsyncDataSet(self, data) for data in listed]

    async def create_chat(
        self,
        name: str,
        avatar: str = "",
        dataset_ids: list[str] | None = None,
        llm: Chat.LLM | None = None,
        prompt: Chat.Prompt | None = None,
    ) -> AsyncChat:
        body = chat_body(self, name, avatar, dataset_ids, llm, prompt)
        return AsyncChat(self, await self._http.call("POST", "/chats", json=body))

    async def delete_chats(self, ids: list[str] | None = None) -> None:
        await self._http.call("DELETE", "/chats", json={"ids": ids})

    async def list_chats(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[AsyncChat]:
        query = list_query(page, page_size, orderby, desc, id, name)
        listed = await self._http.call("GET", "/chats", params=query)
        return [AsyncChat(self, data) for data in listed]

    async def list_agents(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "update_time",
        desc: bool = True,
        id: str | None = None,
        title: str | None = None,
    ) -> list[AsyncAgent]:
        query = agents_query(page, page_size, orderby, desc, id, title)
        listed = await self._http.call("GET", "/agents", params=query)
        return [AsyncAgent(self, data) for data in listed]

    async def create_agent(
        self, title: str, dsl: dict[str, Any], description: str | None = None
    ) -> None:
        await self._http.call("POST", "/agents", json=agent_body(title, description, dsl))

    async def update_agent(
        self,
        agent_id: str,
        title: str | None = None,
        description: str | None = None,
        dsl: dict[str, Any] | None = None,
    ) -> None:
        body = agent_body(title, description, dsl)
        await self._http.call("PUT", f"/agents/{agent_id}", json=body)

    async def delete_agent(self, agent_id: str) -> None:
        await self._http.call("DELETE", f"/agents/{agent_id}", json={})

    async def retrieve(
        self,
        dataset_ids: list[str],
        document_ids: list[str] | None = None,
        question: str = "",
        page: int = 1,
        page_size: int = 30,
        similarity_threshold: float = 0.2,
        vector_similarity_weight: float = 0.3,
        top_k: int = 1024,
        rerank_id: str | None = None,
        keyword: bool = False,
        cross_languages: list[str] | None = None,
        metadata_condition: dict[str, Any] | None = None,
        use_kg: bool = False,
        toc_enhance: bool = False,
    ) -> list[AsyncChunk]:
        body = retrieval_body(dataset_ids, document_ids, question, page, page_size,
                              similarity_threshold, vector_similarity_weight, top_k, rerank_id,
                              keyword, cross_languages, metadata_condition, use_kg,
                              toc_enhance)  # fmt: skip
        data = await self._http.call("POST", "/retrieval", json=body)
        return [AsyncChunk(self, chunk) for chunk in data["chunks"]]

    # --- memories (see ``RAGFlow``) ---

    async def create_memory(
        self, name: str, memory_type: list[str], embd_id: str, llm_id: str
    ) -> AsyncMemory:
        body = memory_body(name, memory_type, embd_id, llm_id)
        return AsyncMemory(self, await self._http.call("POST", "/memories", json=body))

    async def list_memory(
        self,
        page: int = 1,
        page_size: int = 50,
        tenant_id: str | list[str] | None = None,
        memory_type: str | list[str] | None = None,
        storage_type: str | None = None,
        keywords: str | None = None,
    ) -> dict[str, Any]:
        query = memories_query(page, page_size, tenant_id, memory_type, storage_type, keywords)
        data = await self._http.call("GET", "/memories", params=query)
        return {
            "code": 0,
            "message": True,
            "memory_list": [AsyncMemory(self, memory) for memory in data["memory_list"]],
            "total_count": data["total_count"],
        }

    async def delete_memory(self, memory_id: str) -> None:
        await self._http.call("DELETE", f"/memories/{memory_id}", json={})

    async def add_message(
        self,
        memory_id: list[str],
        agent_id: str,
        session_id: str,
        user_input: str,
        agent_response: str,
        user_id: str = "",
    ) -> str:
        body = message_body(memory_id, agent_id, session_id, user_input, agent_response, user_id)
        response = await self._http.send("POST", "/messages", json=body)
        data_of(response)
        return str(response.json().get("message"))

    async def search_message(
        self,
        query: str,
        memory_id: list[str],
        agent_id: str | None = None,
        session_id: str | None = None,
        similarity_threshold: float = 0.2,
        keywords_similarity_weight: float = 0.7,
        top_n: int = 10,
    ) -> list[dict[str, Any]]:
        params = search_query(query, memory_id, agent_id, session_id, similarity_threshold,
                              keywords_similarity_weight, top_n)  # fmt: skip
        found: list[dict[str, Any]] = await self._http.call(
            "GET", "/messages/search", params=params
        )
        return found

    async def get_recent_messages(
        self,
        memory_id: list[str],
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        params = recent_query(memory_id, agent_id, session_id, limit)
        found: list[dict[str, Any]] = await self._http.call("GET", "/messages", params=params)
        return found
