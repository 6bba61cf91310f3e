"""``RAGFlow``: the client, with ragflow-sdk 0.23.1's methods and arguments."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from ragserve.sdk._agent import Agent, agent_body, agents_query
from ragserve.sdk._chat import Chat
from ragserve.sdk._chunk import Chunk
from ragserve.sdk._dataset import DataSet
from ragserve.sdk._exceptions import ErrorCode, RAGServeError
from ragserve.sdk._files import FileMethods
from ragserve.sdk._http import (
    DEFAULT_TIMEOUT,
    Files,
    QueryValue,
    Retry,
    SyncHTTP,
    TimeoutTypes,
    data_of,
)
from ragserve.sdk._memory import (
    Memory,
    memories_query,
    memory_body,
    message_body,
    recent_query,
    search_query,
)

__all__ = ["RAGFlow"]

D = TypeVar("D")


def list_query(
    page: int,
    page_size: int,
    orderby: str,
    desc: bool,
    id: str | None,
    name: str | None,
) -> dict[str, QueryValue]:
    return {
        "page": page,
        "page_size": page_size,
        "orderby": orderby,
        "desc": desc,
        "id": id,
        "name": name,
    }


def dataset_body(
    name: str,
    avatar: str | None,
    description: str | None,
    embedding_model: str | None,
    permission: str,
    chunk_method: str,
    parser_config: DataSet.ParserConfig | None,
) -> dict[str, Any]:
    """Every field, ``None`` as JSON ``null``; ``parser_config`` only when given."""
    body: dict[str, Any] = {
        "name": name,
        "avatar": avatar,
        "description": description,
        "embedding_model": embedding_model,
        "permission": permission,
        "chunk_method": chunk_method,
    }
    if parser_config is not None:
        body["parser_config"] = parser_config.to_json()
    return body


def chat_body(
    rag: Any,
    name: str,
    avatar: str,
    dataset_ids: list[str] | None,
    llm: Chat.LLM | None,
    prompt: Chat.Prompt | None,
) -> dict[str, Any]:
    """The chat with ragflow-sdk's defaults for the model settings and prompt not given."""
    return {
        "name": name,
        "avatar": avatar,
        "dataset_ids": list(dataset_ids or []),
        "llm": (llm if llm is not None else Chat.LLM(rag, {})).to_json(),
        "prompt": (prompt if prompt is not None else Chat.Prompt(rag, {})).to_json(),
    }


def retrieval_body(
    dataset_ids: list[str],
    document_ids: list[str] | None,
    question: str,
    page: int,
    page_size: int,
    similarity_threshold: float,
    vector_similarity_weight: float,
    top_k: int,
    rerank_id: str | None,
    keyword: bool,
    cross_languages: list[str] | None,
    metadata_condition: dict[str, Any] | None,
    use_kg: bool,
    toc_enhance: bool,
) -> dict[str, Any]:
    """Every field, ``None`` as JSON ``null``, ``document_ids`` ``None`` as ``[]``."""
    return {
        "page": page,
        "page_size": page_size,
        "similarity_threshold": similarity_threshold,
        "vector_similarity_weight": vector_similarity_weight,
        "top_k": top_k,
        "rerank_id": rerank_id,
        "keyword": keyword,
        "question": question,
        "dataset_ids": dataset_ids,
        "document_ids": document_ids or [],
        "cross_languages": cross_languages,
        "metadata_condition": metadata_condition,
        "use_kg": use_kg,
        "toc_enhance": toc_enhance,
    }


def first_dataset(found: list[D], name: str) -> D:
    """The first dataset listed by name (the server refuses names it does not know)."""
    if not found:
        raise RAGServeError(f"Dataset {name} not found", code=ErrorCode.DATA_ERROR)
    return found[0]


class RAGFlow(FileMethods):
    """A client of a RAGFlow-compatible server (ragserve, or RAGFlow itself).

    :param api_key: an API token (``ragflow-...``), sent as ``Authorization: Bearer``.
    :param base_url: the server's address, e.g. ``http://127.0.0.1:9380``.
    :param version: the API version in the path, ``/api/<version>``.
    :param timeout: seconds (or an ``httpx.Timeout``) to wait for the server; ``None`` waits
        forever. Streamed answers wait this long for each piece.
    :param retries: how often an idempotent request is repeated after a connection failure
        or a 502/503/504, or a ``Retry`` for the backoff as well.
    :param http_client: an ``httpx.Client`` to send with (proxies, certificates, a test
        transport); the caller closes it.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        version: str = "v1",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        retries: int | Retry = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        retry = retries if isinstance(retries, Retry) else Retry(retries=retries)
        self._http = SyncHTTP(base_url, api_key, version, timeout=timeout, retry=retry,
                              http_client=http_client)  # fmt: skip
        self.user_key = api_key
        self.api_url = self._http.api_url
        self.authorization_header = dict(self._http.headers)

    def close(self) -> None:
        """Closes the connections (not those of a given ``http_client``)."""
        self._http.close()

    def __enter__(self) -> RAGFlow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- datasets ---

    def create_dataset(
        self,
        name: str,
        avatar: str | None = None,
        description: str | None = None,
        embedding_model: str | None = None,
        permission: str = "me",
        chunk_method: str = "naive",
        parser_config: DataSet.ParserConfig | None = None,
    ) -> DataSet:
        """Creates a dataset; ``embedding_model`` ``None`` is the server's default and
        ``parser_config`` is completed with ``chunk_method``'s defaults."""
        body = dataset_body(name, avatar, description, embedding_model, permission,
                            chunk_method, parser_config)  # fmt: skip
        return DataSet(self, self._http.call("POST", "/datasets", json=body))

    def delete_datasets(self, ids: list[str] | None = None) -> None:
        """Deletes these datasets with everything in them; ``None`` deletes all of yours."""
        self._http.call("DELETE", "/datasets", json={"ids": ids})

    def get_dataset(self, name: str) -> DataSet:
        """The dataset of this name (ignoring case)."""
        return first_dataset(self.list_datasets(name=name), name)

    def list_datasets(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[DataSet]:
        """Your datasets, a page at a time, newest first unless ``desc=False``."""
        query = list_query(page, page_size, orderby, desc, id, name)
        return [DataSet(self, data) for data in self._http.call("GET", "/datasets", params=query)]

    # --- chats ---

    def create_chat(
        self,
        name: str,
        avatar: str = "",
        dataset_ids: list[str] | None = None,
        llm: Chat.LLM | None = None,
        prompt: Chat.Prompt | None = None,
    ) -> Chat:
        """Creates a chat assistant over datasets that have parsed documents."""
        body = chat_body(self, name, avatar, dataset_ids, llm, prompt)
        return Chat(self, self._http.call("POST", "/chats", json=body))

    def delete_chats(self, ids: list[str] | None = None) -> None:
        """Deletes these chats and their sessions; ``None`` deletes all of yours."""
        self._http.call("DELETE", "/chats", json={"ids": ids})

    def list_chats(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "create_time",
        desc: bool = True,
        id: str | None = None,
        name: str | None = None,
    ) -> list[Chat]:
        """Your chats, a page at a time, newest first unless ``desc=False``."""
        query = list_query(page, page_size, orderby, desc, id, name)
        return [Chat(self, data) for data in self._http.call("GET", "/chats", params=query)]

    # --- agents ---

    def list_agents(
        self,
        page: int = 1,
        page_size: int = 30,
        orderby: str = "update_time",
        desc: bool = True,
        id: str | None = None,
        title: str | None = None,
    ) -> list[Agent]:
        """Your agents, a page at a time, last changed first unless ``desc=False``."""
        query = agents_query(page, page_size, orderby, desc, id, title)
        return [Agent(self, data) for data in self._http.call("GET", "/agents", params=query)]

    def create_agent(self, title: str, dsl: dict[str, Any], description: str | None = None) -> None:
        """Stores an agent. As in RAGFlow nothing is returned: ``list_agents(title=...)``
        finds it."""
        self._http.call("POST", "/agents", json=agent_body(title, description, dsl))

    def update_agent(
        self,
        agent_id: str,
        title: str | None = None,
        description: str | None = None,
        dsl: dict[str, Any] | None = None,
    ) -> None:
        """Changes the fields given; a new DSL is a new version."""
        self._http.call("PUT", f"/agents/{agent_id}", json=agent_body(title, description, dsl))

    def delete_agent(self, agent_id: str) -> None:
        """Deletes the agent, its versions and its sessions."""
        self._http.call("DELETE", f"/agents/{agent_id}", json={})

    # --- retrieval ---

    def retrieve(
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
    ) -> list[Chunk]:
        """The chunks of the datasets (or of these documents) that best answer ``question``,
        best first."""
        body = retrieval_body(dataset_ids, document_ids, question, page, page_size,
                              similarity_threshold, vector_similarity_weight, top_k, rerank_id,
                              keyword, cross_languages, metadata_condition, use_kg,
                              toc_enhance)  # fmt: skip
        data = self._http.call("POST", "/retrieval", json=body)
        return [Chunk(self, chunk) for chunk in data["chunks"]]

    # --- memories ---

    def create_memory(self, name: str, memory_type: list[str], embd_id: str, llm_id: str) -> Memory:
        """A new memory of these types (raw, semantic, episodic, procedural) whose items the
        chat model ``llm_id`` extracts and the model ``embd_id`` embeds."""
        data = self._http.call(
            "POST", "/memories", json=memory_body(name, memory_type, embd_id, llm_id)
        )
        return Memory(self, data)

    def list_memory(
        self,
        page: int = 1,
        page_size: int = 50,
        tenant_id: str | list[str] | None = None,
        memory_type: str | list[str] | None = None,
        storage_type: str | None = None,
        keywords: str | None = None,
    ) -> dict[str, Any]:
        """``{"code", "message", "memory_list": [Memory...], "total_count"}``, as ragflow-sdk
        answers."""
        query = memories_query(page, page_size, tenant_id, memory_type, storage_type, keywords)
        data = self._http.call("GET", "/memories", params=query)
        return {
            "code": 0,
            "message": True,
            "memory_list": [Memory(self, memory) for memory in data["memory_list"]],
            "total_count": data["total_count"],
        }

    def delete_memory(self, memory_id: str) -> None:
        """Deletes the memory and its messages."""
        self._http.call("DELETE", f"/memories/{memory_id}", json={})

    def add_message(
        self,
        memory_id: list[str],
        agent_id: str,
        session_id: str,
        user_input: str,
        agent_response: str,
        user_id: str = "",
    ) -> str:
        """Keeps a turn in these memories (its extraction is queued); the server's message."""
        body = message_body(memory_id, agent_id, session_id, user_input, agent_response, user_id)
        response = self._http.send("POST", "/messages", json=body)
        data_of(response)
        return str(response.json().get("message"))

    def search_message(
        self,
        query: str,
        memory_id: list[str],
        agent_id: str | None = None,
        session_id: str | None = None,
        similarity_threshold: float = 0.2,
        keywords_similarity_weight: float = 0.7,
        top_n: int = 10,
    ) -> list[dict[str, Any]]:
        """The memories' messages most like ``query``, best first."""
        params = search_query(query, memory_id, agent_id, session_id, similarity_threshold,
                              keywords_similarity_weight, top_n)  # fmt: skip
        found: list[dict[str, Any]] = self._http.call("GET", "/messages/search", params=params)
        return found

    def get_recent_messages(
        self,
        memory_id: list[str],
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """The newest turns of the memories, newest first."""
        params = recent_query(memory_id, agent_id, session_id, limit)
        found: list[dict[str, Any]] = self._http.call("GET", "/messages", params=params)
        return found

    # --- raw requests, as ragflow-sdk offers them ---

    def get(
        self, path: str, params: dict[str, QueryValue] | None = None, json: Any = None
    ) -> httpx.Response:
        """``GET /api/<version><path>``, the response as it came (no envelope check)."""
        return self._http.send("GET", path, params=params, json=json)

    def post(
        self, path: str, json: Any = None, stream: bool = False, files: Files | None = None
    ) -> httpx.Response:
        """``POST``; with ``stream=True`` the body is not read and the caller closes it."""
        return self._http.send("POST", path, json=json, files=files, stream=stream)

    def put(self, path: str, json: Any) -> httpx.Response:
        return self._http.send("PUT", path, json=json)

    def delete(self, path: str, json: Any) -> httpx.Response:
        return self._http.send("DELETE", path, json=json)
