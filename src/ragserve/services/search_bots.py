"""The embedded search page (``/api/v1/searchbots/*``, spec ragflow-more B.5 and D.4): ask,
retrieval test, related questions, a saved app's detail and a mind map, for the tenant of a
beta token, optionally under a saved search app's config (``search_id``).

Thin adapters: asking is ``completions.ad_hoc_assistant`` and ``ask_events`` with the app's
settings, the retrieval test is ``retrieval.retrieve`` shown in RAGFlow's internal field names,
related questions are ``completions.related_questions``. A ``search_id`` must name an app the
caller may read (``search_apps.detail``'s 103 otherwise; RAGFlow applies any app's config), and
every dataset must be visible to the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from ragserve.db.models import Dataset
from ragserve.errors import DataError, OperatingError
from ragserve.rag.mindmap import EMPTY_MAP, MINDMAP_PROMPT, outline_tree
from ragserve.runtime import Runtime
from ragserve.schemas.bots import (
    MindMapNode,
    SearchAskRequest,
    SearchBotChunk,
    SearchBotRetrieval,
    SearchRetrievalRequest,
)
from ragserve.schemas.completions import StreamEvent
from ragserve.schemas.retrieval import RetrievalRequest
from ragserve.services import completions, retrieval, search_apps
from ragserve.services.completions import AskSettings
from ragserve.services.datasets import visible_to
from ragserve.services.models import tenant_chat_model
from ragserve.services.tenancy import Caller

NO_DATASET = "Please specify dataset firstly."
NOT_DATASET_OWNER = "Only owner of dataset authorized for this operation."
NO_CHAT_MODEL = "No chat model is configured for this tenant."
ANSWER_PASSAGES = 12
"""Passages an answer and a mind map are drawn from (RAGFlow's ``page_size=12``)."""


def search_config(runtime: Runtime, caller: Caller, search_id: str) -> dict[str, Any]:
    """The saved app's config ({} without ``search_id``); 103 for an app the caller may not
    read or that does not exist."""
    if not search_id:
        return {}
    with runtime.read() as session:
        return dict(search_apps.detail(session, caller, search_id).search_config)


def _settings(config: dict[str, Any], similarity_threshold: float) -> AskSettings:
    return AskSettings(
        llm_id=str(config.get("chat_id") or ""),
        similarity_threshold=float(config.get("similarity_threshold", similarity_threshold)),
        vector_similarity_weight=float(config.get("vector_similarity_weight", 0.3)),
        top_n=ANSWER_PASSAGES,
        top_k=int(config.get("top_k") or 1024),
        rerank_id=str(config.get("rerank_id") or ""),
        parsed_only=False,
    )


def _dataset_ids(config: dict[str, Any], asked: list[str]) -> list[str]:
    """The app's datasets when it names some (as RAGFlow's ``async_ask``), else those asked."""
    saved = [str(item) for item in config.get("kb_ids") or [] if item]
    chosen = saved or asked
    if not chosen:
        raise DataError(NO_DATASET, data=False)
    return chosen


def _document_ids(config: dict[str, Any]) -> list[str]:
    return [str(item) for item in config.get("doc_ids") or [] if item]


def ask(runtime: Runtime, caller: Caller, body: SearchAskRequest) -> Iterator[StreamEvent]:
    """The answer over the datasets as ``/sessions/ask`` streams it (spec 4.5); a request
    that cannot be answered raises before the first event."""
    config = search_config(runtime, caller, body.search_id)
    dataset_ids = _dataset_ids(config, body.kb_ids)
    settings = _settings(config, 0.1)
    assistant = completions.ad_hoc_assistant(runtime, caller, dataset_ids, settings)
    return completions.ask_events(runtime, assistant, body.question, _document_ids(config))


def retrieval_test(
    runtime: Runtime, caller: Caller, body: SearchRetrievalRequest
) -> SearchBotRetrieval:
    """One page of the chunks found in ``kb_id`` (every one visible to the caller, else 103),
    as ``POST /api/v1/retrieval`` finds them."""
    if not body.kb_id:
        raise DataError(NO_DATASET, data=False)
    search_config(runtime, caller, body.search_id)  # an app the caller may not read: 103
    with runtime.read() as session:
        visible = set(
            session.scalars(
                select(Dataset.id).where(Dataset.id.in_(body.kb_id), visible_to(caller))
            )
        )
    if any(dataset_id not in visible for dataset_id in body.kb_id):
        raise OperatingError(NOT_DATASET_OWNER, data=False)
    request = RetrievalRequest.model_validate(
        {
            "dataset_ids": body.kb_id,
            "question": body.question,
            "document_ids": body.doc_ids,
            "page": body.page,
            "page_size": body.size,
            "similarity_threshold": body.similarity_threshold,
            "vector_similarity_weight": body.vector_similarity_weight,
            "top_k": body.top_k,
            "rerank_id": body.rerank_id or None,
            "keyword": body.keyword,
            "highlight": body.highlight,
            "cross_languages": body.cross_languages,
        }
    )
    found = retrieval.retrieve(runtime, caller, request)
    chunks: list[SearchBotChunk] = [
        {
            "chunk_id": chunk.id,
            "content_ltks": chunk.content_ltks,
            "content_with_weight": chunk.content,
            "doc_id": chunk.document_id,
            "docnm_kwd": chunk.document_keyword,
            "kb_id": chunk.dataset_id,
            "important_kwd": chunk.important_keywords,
            "image_id": chunk.image_id,
            "similarity": chunk.similarity,
            "vector_similarity": chunk.vector_similarity,
            "term_similarity": chunk.term_similarity,
            "positions": chunk.positions,
            "doc_type_kwd": chunk.doc_type_kwd,
            "highlight": chunk.highlight or "",
        }
        for chunk in found.chunks
    ]
    documents = found.doc_aggs if isinstance(found.doc_aggs, list) else []
    return SearchBotRetrieval.model_validate(
        {
            "total": found.total,
            "chunks": chunks,
            "doc_aggs": [document.model_dump() for document in documents],
        }
    )


def related_questions(runtime: Runtime, caller: Caller, question: str, search_id: str) -> list[str]:
    """Search queries related to the question, by the app's chat model or the tenant's."""
    config = search_config(runtime, caller, search_id)
    llm_id = str(config.get("chat_id") or "")
    return completions.related_questions(runtime, caller, question, "", llm_id)


def mindmap(runtime: Runtime, caller: Caller, body: SearchAskRequest) -> MindMapNode:
    """A mind map of the passages found for the question, drawn by the chat model (the app's
    or the tenant's); an empty map when nothing is found."""
    config = search_config(runtime, caller, body.search_id)
    if not body.kb_ids:
        raise DataError(NO_DATASET, data=False)
    settings = _settings(config, 0.2)
    with runtime.read() as session:
        scope = retrieval.resolve_scope(session, caller, body.kb_ids, _document_ids(config))
        llm_id = settings.llm_id or tenant_chat_model(session, runtime.settings, caller.tenant_id)
    if not llm_id:
        raise DataError(NO_CHAT_MODEL)
    options = retrieval.SearchOptions(
        page_size=ANSWER_PASSAGES,
        similarity_threshold=settings.similarity_threshold,
        vector_similarity_weight=settings.vector_similarity_weight,
        top_k=settings.top_k,
    )
    rerank = (
        runtime.rerank_model(settings.rerank_id, caller.tenant_id).scores
        if settings.rerank_id
        else None
    )
    hits = retrieval.search(runtime, scope, body.question, options, rerank).hits
    if not hits:
        return MindMapNode.model_validate(EMPTY_MAP)
    text = "\n\n".join(hit.chunk.content for hit in hits)
    chat = runtime.chat_model(llm_id, caller.tenant_id)
    outline = chat.complete(  # a model failure is its ChatError (100), as RAGFlow's
        [{"role": "system", "content": MINDMAP_PROMPT}, {"role": "user", "content": text}],
        max_tokens=2048,
    )
    return MindMapNode.model_validate(outline_tree(outline))
