"""What a run needs from the rest of ragserve, as an interface: the services implement it
(``services.agent_environment``) with the tenant's models, the retrieval path and its MCP
servers, tests with what they need. The runner never reaches the database or the chunk store
itself, and connects to nothing but through what this gives it (chat models, MCP calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ragserve.models.chat import ChatModel
from ragserve.settings import Settings


@dataclass(frozen=True)
class RetrievalQuery:
    """One dataset search of a Retrieval component (its parameters, references resolved)."""

    question: str
    dataset_ids: tuple[str, ...]
    similarity_threshold: float = 0.2
    vector_similarity_weight: float = 0.3
    """RAGFlow's ``keywords_similarity_weight`` is the term side's: this is ``1 -`` it."""
    top_n: int = 8
    top_k: int = 1024
    rerank_id: str = ""
    document_ids: tuple[str, ...] = ()
    use_kg: bool = False
    """Add the datasets' knowledge graph's passage (docs/knowledge.md)."""
    cross_languages: tuple[str, ...] = ()
    """Also search the question translated into these languages (the tenant's chat model)."""
    toc_enhance: bool = False
    """Add the passages a document's table of contents points the question to."""
    metadata_condition: dict[str, Any] | None = None
    """``metadata_condition`` of ``/api/v1/retrieval`` (the documents' ``meta_fields``)."""
    auto_filter: bool = False
    """Let the chat model write the metadata filter from the question."""


@dataclass(frozen=True)
class RetrievedChunks:
    """Chunks found, each a reference chunk as chat answers show them (``id``, ``content``,
    ``document_id``, ``document_name``, ``dataset_id``, ``image_id``, ``positions``,
    ``similarity``…), and the per-document counts ``{doc_name, doc_id, count}``."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    doc_aggs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MemoryQuery:
    """One memory search of a Retrieval component (``memory_ids``)."""

    question: str
    memory_ids: tuple[str, ...]
    similarity_threshold: float = 0.2
    keywords_similarity_weight: float = 0.7
    top_n: int = 8


class Environment(Protocol):
    """The tenant an agent runs for and what it may call."""

    tenant_id: str

    @property
    def settings(self) -> Settings:
        """ragserve's settings (the tools read their base URLs, keys and limits there)."""
        ...

    def chat_model(self, llm_id: str) -> ChatModel:
        """The chat model ``llm_id`` (``name@factory`` or a LiteLLM string) with the tenant's
        credentials; the tenant's default model when ``llm_id`` is empty. Raises a
        ``RagserveError`` when there is none."""
        ...

    def retrieve(self, query: RetrievalQuery) -> RetrievedChunks:
        """Search datasets the tenant may see; raises a ``RagserveError`` for others."""
        ...

    def call_mcp_tool(self, mcp_id: str, tool_name: str, arguments: dict[str, Any]) -> str:
        """Call the tool ``tool_name`` of the tenant's registered MCP server ``mcp_id``; its
        result as text (a tool that fails answers ``MCP server error: …``). Raises a
        ``RagserveError`` when the server is not the tenant's or cannot be reached."""

    def read_attachment(self, attachment_id: str) -> bytes:
        """A file uploaded to the agent (``/v1/canvas/upload``) or made by a run, of the
        agent's tenant; raises a ``RagserveError`` when the tenant has none with that id."""
        ...

    def store_attachment(self, data: bytes) -> str:
        """Keep a file the run made for the user (a Message's ``output_format``); its id,
        which ``GET /api/v1/file/download/{id}`` serves to the tenant."""

    def remember(self, memory_ids: tuple[str, ...], user_input: str, agent_response: str) -> None:
        """Keep a turn of this run in the memories (extraction queued); memories the tenant
        does not see are skipped."""
        ...

    def recall(self, query: MemoryQuery) -> list[dict[str, Any]]:
        """Messages of the memories most like the question (``content``, ``memory_id``,
        ``message_id``, ``message_type``, ``similarity``…), best first."""
        ...
