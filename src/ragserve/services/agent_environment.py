"""The environment an agent runs in (``ragserve.agent.environment.Environment``): the tenant's
chat models, the one retrieval path (``services.retrieval``), the tenant's registered MCP
servers (``services.mcp_servers``) and its memories (``services.memory_messages``), scoped to
the tenant that owns the agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ragserve.agent.environment import MemoryQuery, RetrievalQuery, RetrievedChunks
from ragserve.blobs.attachments import read_attachment, store_attachment
from ragserve.errors import DataError, RagserveError
from ragserve.models.chat import ChatModel
from ragserve.runtime import Runtime
from ragserve.schemas.memories import AddMessage, SearchMessages
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import chat_search, mcp_servers, memory_messages, retrieval
from ragserve.services.auto_filter import auto_condition
from ragserve.services.chat_search import ChatSearch
from ragserve.services.completions import reference_chunk
from ragserve.services.datasets import dataset_ids_by_name, visible_dataset_ids
from ragserve.services.models import tenant_chat_model
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.settings import Settings

logger = logging.getLogger("ragserve.agent")


@dataclass
class TenantEnvironment:
    runtime: Runtime
    tenant_id: str
    agent_id: str = ""
    session_id: str = ""
    user_id: str = ""

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def caller(self) -> Caller:
        return Caller(self.tenant_id, self.tenant_id, CredentialKind.API_TOKEN)

    def chat_model(self, llm_id: str) -> ChatModel:
        if not llm_id:
            with self.runtime.read() as session:
                llm_id = tenant_chat_model(session, self.runtime.settings, self.tenant_id)
        if not llm_id:
            raise DataError("No chat model is configured for this tenant.")
        return self.runtime.chat_model(llm_id, self.tenant_id)

    def read_attachment(self, attachment_id: str) -> bytes:
        data = read_attachment(self.runtime.blobs, self.tenant_id, attachment_id)
        if data is None:
            raise DataError(f"No uploaded file has the id {attachment_id}.")
        return data

    def store_attachment(self, data: bytes) -> str:
        return store_attachment(self.runtime.blobs, self.tenant_id, data)

    def retrieve(self, query: RetrievalQuery) -> RetrievedChunks:
        runtime = self.runtime
        with runtime.read() as session:
            dataset_ids = dataset_ids_by_name(session, self.caller, query.dataset_ids)
            model_id = tenant_chat_model(session, runtime.settings, self.tenant_id)
        chat = runtime.chat_model(model_id, self.tenant_id) if model_id else None
        condition = query.metadata_condition
        if query.auto_filter and chat is not None and condition is None:
            visible = self._visible(dataset_ids)
            condition = auto_condition(runtime, chat, visible, query.question)
        with runtime.read() as session:
            scope = retrieval.resolve_scope(
                session,
                self.caller,
                dataset_ids,
                query.document_ids,
                parse_metadata_condition(condition),
                scopes=runtime.caches.metadata_scopes,
            )
        options = retrieval.SearchOptions(
            page_size=query.top_n,
            similarity_threshold=query.similarity_threshold,
            vector_similarity_weight=query.vector_similarity_weight,
            top_k=query.top_k,
        )
        rerank = (
            runtime.rerank_model(query.rerank_id, self.tenant_id).scores
            if query.rerank_id
            else None
        )
        asked = ChatSearch(
            cross_languages=query.cross_languages,
            toc_enhance=query.toc_enhance,
            use_kg=query.use_kg,
        )
        result = chat_search.search(runtime, scope, query.question, options, chat, asked, rerank)
        return RetrievedChunks(
            chunks=[dict(reference_chunk(hit)) for hit in result.hits],
            doc_aggs=[
                {"doc_name": d.document_name, "doc_id": d.document_id, "count": d.count}
                for d in result.documents
            ],
        )

    def _visible(self, dataset_ids: list[str]) -> list[str]:
        """The datasets among these that the tenant may search (the others are refused by the
        search itself, after the filter is written)."""
        with self.runtime.read() as session:
            visible = set(visible_dataset_ids(session, self.caller))
        return [dataset_id for dataset_id in dataset_ids if dataset_id in visible]

    def call_mcp_tool(self, mcp_id: str, tool_name: str, arguments: dict[str, Any]) -> str:
        return mcp_servers.call_tool(self.runtime, self.caller, mcp_id, tool_name, arguments)

    def remember(self, memory_ids: tuple[str, ...], user_input: str, agent_response: str) -> None:
        request = AddMessage.model_validate(
            {
                "memory_id": list(memory_ids),
                "agent_id": self.agent_id,
                "session_id": self.session_id,
                "user_input": user_input,
                "agent_response": agent_response,
                "user_id": self.user_id,
            }
        )
        try:
            memory_messages.add(self.runtime, self.caller, request)
        except RagserveError as error:  # a memory gone is no reason to fail the answer
            logger.warning("agent %s: a turn was not kept: %s", self.agent_id, error.message)

    def recall(self, query: MemoryQuery) -> list[dict[str, Any]]:
        search = SearchMessages(
            memory_id=list(query.memory_ids),
            query=query.question,
            similarity_threshold=query.similarity_threshold,
            keywords_similarity_weight=query.keywords_similarity_weight,
            top_n=query.top_n,
        )
        return [
            found.model_dump()
            for found in memory_messages.search(self.runtime, self.caller, search)
        ]
