"""Hybrid retrieval over datasets (spec 5): used by ``/api/v1/retrieval``, Dify, chat and agents.

``resolve_scope`` turns what a caller asked for into what may be searched (datasets the caller
can see, their documents, the metadata filter); ``search`` runs the query: full-text and vector
candidates from the chunk store, fused as ``(1 - w) * term + w * vector``, optionally reranked,
thresholded, paged, with per-document counts and highlights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import Dataset, Document
from ragserve.errors import DataError
from ragserve.models.registry import vector_space
from ragserve.rag import hybrid
from ragserve.rag.highlight import Highlighter
from ragserve.rag.question import translated, with_keywords
from ragserve.runtime import Runtime, ScopeCache
from ragserve.schemas.chunks import readable_positions
from ragserve.schemas.metadata_condition import MetadataCondition
from ragserve.schemas.retrieval import RetrievalData, RetrievalRequest
from ragserve.services import knowledge_graph, tags
from ragserve.services.datasets import visible_to
from ragserve.services.metadata_scope import matching_documents
from ragserve.services.models import tenant_chat_model
from ragserve.services.tenancy import Caller
from ragserve.store.base import ChunkFilter, ChunkRecord
from ragserve.tokenizer import tokenize

RERANK_WINDOW = 64
"""A rerank model scores at most ``max(RERANK_WINDOW, page * page_size)`` fused candidates."""
CANDIDATE_FLOOR = 128
CANDIDATES_PER_RESULT = 4
"""Each search side fetches ``max(CANDIDATE_FLOOR, CANDIDATES_PER_RESULT * page * page_size)``
candidates: enough for the page asked (a chunk below that rank on both sides cannot reach it),
while HNSW and fusion cost grow with the count. ``top_k`` caps the vector side only: as in
RAGFlow, full-text matches join the ``top_k`` nearest chunks."""


def text_candidate_count(options: SearchOptions) -> int:
    return max(CANDIDATE_FLOOR, CANDIDATES_PER_RESULT * options.page * options.page_size)


def candidate_count(options: SearchOptions) -> int:
    """The vector side's count."""
    return min(options.top_k, text_candidate_count(options))


@dataclass(frozen=True)
class Scope:
    """What one retrieval may search."""

    tenant_ids: tuple[str, ...]
    dataset_ids: tuple[str, ...]
    document_ids: tuple[str, ...] | None
    """None: every document of the datasets; empty: none (a filter matched nothing)."""
    embedding_model: str
    tag_sets: tags.TagSets | None = None
    """The first dataset's tag sets, when it has some: they tag the question (``tags``)."""

    @property
    def embedding_tenant(self) -> str | None:
        """The tenant whose credentials call the embedding model: the first datasets'."""
        return self.tenant_ids[0] if self.tenant_ids else None


@dataclass(frozen=True)
class SearchOptions:
    page: int = 1
    page_size: int = 30
    similarity_threshold: float = 0.2
    vector_similarity_weight: float = 0.3
    top_k: int = 1024
    highlight: bool = False


@dataclass(frozen=True)
class Hit:
    chunk: ChunkRecord
    similarity: float
    term_similarity: float
    vector_similarity: float
    highlight: str | None = None
    url: str | None = None
    """Where a web page found by web search lives (``None`` for a chunk of a dataset)."""


@dataclass(frozen=True)
class DocumentCount:
    document_id: str
    document_name: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    """Chunks reaching the threshold among the candidates (``top_k`` caps the vector side)."""
    hits: list[Hit] = field(default_factory=list)
    documents: list[DocumentCount] = field(default_factory=list)


EMPTY = SearchResult(total=0)


def resolve_scope(
    session: Session,
    caller: Caller,
    dataset_ids: Sequence[str],
    document_ids: Sequence[str] = (),
    metadata_condition: MetadataCondition | None = None,
    *,
    scopes: ScopeCache | None = None,
) -> Scope:
    """Check the caller may search these datasets and documents (spec 5's messages) and apply
    the metadata filter, which only counts when no document ids are given (its result kept in
    ``scopes``, the runtime's ``caches.metadata_scopes``, when given)."""
    datasets = {
        row.id: row
        for row in session.execute(
            select(
                Dataset.id, Dataset.tenant_id, Dataset.embedding_model, Dataset.parser_config
            ).where(Dataset.id.in_(set(dataset_ids)), visible_to(caller))
        )
    }
    for dataset_id in dataset_ids:
        if dataset_id not in datasets:
            raise DataError(f"You don't own the dataset {dataset_id}.")
    models = {row.embedding_model for row in datasets.values()}
    if len({vector_space(model) for model in models}) > 1:
        raise DataError('Datasets use different embedding models."')
    if len(models) > 1:  # variants of one model: the question is embedded with the first's
        models = {datasets[dataset_ids[0]].embedding_model}
    documents: tuple[str, ...] | None = None
    if document_ids:
        owned = set(
            session.scalars(
                select(Document.id).where(
                    Document.id.in_(set(document_ids)), Document.dataset_id.in_(datasets)
                )
            )
        )
        for document_id in document_ids:
            if document_id not in owned:
                raise DataError(f"The datasets don't own the document {document_id}")
        documents = tuple(dict.fromkeys(document_ids))
    elif metadata_condition is not None and metadata_condition.conditions:
        documents = matching_documents(session, datasets, metadata_condition, scopes)
    first = datasets[dataset_ids[0]] if dataset_ids else None
    return Scope(
        tenant_ids=tuple(sorted({row.tenant_id for row in datasets.values()})),
        dataset_ids=tuple(dict.fromkeys(dataset_ids)),
        document_ids=documents,
        embedding_model=models.pop() if models else "",
        tag_sets=tags.TagSets.of(first.tenant_id, first.parser_config) if first else None,
    )


def retrieve(runtime: Runtime, caller: Caller, request: RetrievalRequest) -> RetrievalData:
    """``POST /api/v1/retrieval``: the scope checked, the question rewritten as asked (keywords,
    translations), searched, optionally reranked, as RAGFlow answers it."""
    with runtime.read() as session:
        scope = resolve_scope(
            session,
            caller,
            request.dataset_ids,
            request.document_ids,
            request.metadata_condition,
            scopes=runtime.caches.metadata_scopes,
        )
    if not request.question.strip() or scope.document_ids == ():
        return RetrievalData(total=0, chunks=[], doc_aggs={})  # RAGFlow's early answer
    question = rewrite_question(
        runtime,
        caller.tenant_id,
        request.question,
        keyword=request.keyword,
        cross_languages=request.cross_languages,
    )
    rerank_id = request.rerank_id
    rerank = runtime.rerank_model(rerank_id, caller.tenant_id).scores if rerank_id else None
    result = search(runtime, scope, question, search_options(request), rerank)
    if request.use_kg:
        result = with_graph(runtime, scope, question, result)
    return retrieval_data(result)


def with_graph(runtime: Runtime, scope: Scope, question: str, result: SearchResult) -> SearchResult:
    """The result with the knowledge graph's passage first, when the datasets have a graph
    with something near the question (``use_kg``)."""
    vector = query_vector(runtime, scope, question)
    with runtime.read() as session:
        related = knowledge_graph.related_content(session, scope.dataset_ids, question, vector)
    if related is None:
        return result
    chunk = ChunkRecord(
        id="",
        tenant_id=scope.tenant_ids[0],
        dataset_id=related.dataset_ids[0],
        document_id="",
        document_name=knowledge_graph.KG_DOCUMENT_NAME,
        content=related.content,
        content_tokens="",
    )
    hit = Hit(chunk, similarity=1.0, term_similarity=0.0, vector_similarity=1.0)
    return SearchResult(result.total + 1, [hit, *result.hits], result.documents)


def search_options(request: RetrievalRequest) -> SearchOptions:
    return SearchOptions(
        page=request.page,
        page_size=request.page_size,
        similarity_threshold=request.similarity_threshold,
        vector_similarity_weight=request.vector_similarity_weight,
        top_k=request.top_k,
        highlight=request.highlight,
    )


def retrieval_data(result: SearchResult) -> RetrievalData:
    """The result as RAGFlow shows it. Built as plain values and validated once (in pydantic's
    core), which costs a third of constructing a model per hit: this is the hottest answer."""
    return RetrievalData.model_validate(
        {
            "total": result.total,
            "chunks": [_retrieved(hit) for hit in result.hits],
            "doc_aggs": [
                {"doc_name": d.document_name, "doc_id": d.document_id, "count": d.count}
                for d in result.documents
            ],
        }
    )


def _retrieved(hit: Hit) -> dict[str, Any]:
    """A ``RetrievedChunk``'s fields."""
    chunk = hit.chunk
    return {
        "id": chunk.id,
        "content": chunk.content,
        "content_ltks": chunk.content_tokens,
        "document_id": chunk.document_id,
        "document_keyword": chunk.document_name,
        "dataset_id": chunk.dataset_id,
        "important_keywords": chunk.important_keywords,
        "questions": chunk.questions,
        "image_id": chunk.image_id,
        "similarity": hit.similarity,
        "vector_similarity": hit.vector_similarity,
        "term_similarity": hit.term_similarity,
        "positions": readable_positions(chunk.positions),
        "highlight": hit.highlight,
    }


def rewrite_question(
    runtime: Runtime,
    tenant_id: str,
    question: str,
    *,
    keyword: bool = False,
    cross_languages: Sequence[str] = (),
) -> str:
    """The question translated into ``cross_languages`` and/or followed by its keywords, by
    the tenant's chat model; unchanged when the tenant has none (or it fails)."""
    if not question.strip() or (not keyword and not cross_languages):
        return question
    with runtime.read() as session:
        model_id = tenant_chat_model(session, runtime.settings, tenant_id)
    if not model_id:
        return question
    chat = runtime.chat_model(model_id, tenant_id)
    if cross_languages:
        question = translated(chat, question, cross_languages)
    if keyword:
        question = with_keywords(chat, question)
    return question


def search(
    runtime: Runtime,
    scope: Scope,
    question: str,
    options: SearchOptions,
    rerank: hybrid.Rerank | None = None,
) -> SearchResult:
    """The page of chunks most similar to the question, with the total and document counts."""
    if not question.strip() or not scope.dataset_ids or scope.document_ids == ():
        return EMPTY
    # The question is embedded on another thread while it is tokenized and searched by text.
    vector = (
        runtime.question_vector_soon(scope.embedding_model, scope.embedding_tenant, question)
        if scope.embedding_model
        else None
    )
    terms = tokenize(question)
    filters = ChunkFilter(
        tenant_ids=scope.tenant_ids,
        dataset_ids=scope.dataset_ids,
        document_ids=scope.document_ids,
    )
    candidates = runtime.chunks.candidates(
        terms, vector, filters, candidate_count(options), text_k=text_candidate_count(options)
    )
    ranked = hybrid.fuse(candidates, options.vector_similarity_weight)
    records: dict[str, ChunkRecord] | None = None
    if scope.tag_sets is not None:
        ranked, records = _by_tags(runtime, scope, scope.tag_sets, question, ranked)
    if rerank is not None:
        ranked = ranked[: max(RERANK_WINDOW, options.page * options.page_size)]
        records = _records(runtime, scope, [s.chunk_id for s in ranked])  # holds the page too
        texts = [records[s.chunk_id].content if s.chunk_id in records else "" for s in ranked]
        ranked = hybrid.rescore(ranked, rerank(question, texts), options.vector_similarity_weight)
    kept = hybrid.above(ranked, options.similarity_threshold)
    page = hybrid.page_of(kept, options.page, options.page_size)
    if records is None:
        records = _records(runtime, scope, [s.chunk_id for s in page])
    highlight = Highlighter(terms) if options.highlight else None
    hits = [
        Hit(
            chunk=records[s.chunk_id],
            similarity=s.similarity,
            term_similarity=s.term_similarity,
            vector_similarity=s.vector_similarity,
            highlight=None if highlight is None else highlight(records[s.chunk_id].content),
        )
        for s in page
        if s.chunk_id in records
    ]
    names = {s.document_id: s.document_name for s in kept}
    documents = [
        DocumentCount(document_id, names[document_id], count)
        for document_id, count in hybrid.document_counts(kept)
    ]
    return SearchResult(total=len(kept), hits=hits, documents=documents)


def _by_tags(
    runtime: Runtime,
    scope: Scope,
    sets: tags.TagSets,
    question: str,
    ranked: list[hybrid.Scored],
) -> tuple[list[hybrid.Scored], dict[str, ChunkRecord] | None]:
    """The candidates re-ranked with the tags they share with the question, and their records
    (read to know their tags); unchanged when the question matches no tag."""
    wanted = tags.tags_for(runtime, sets, question)
    if not wanted:
        return ranked, None
    records = _records(runtime, scope, [s.chunk_id for s in ranked])
    boosted = [
        dataclasses.replace(
            s,
            similarity=s.similarity
            + tags.TAG_WEIGHT * tags.overlap(wanted, records[s.chunk_id].fields),
        )
        if s.chunk_id in records
        else s
        for s in ranked
    ]
    return sorted(boosted, key=lambda s: (-s.similarity, s.chunk_id)), records


def _records(runtime: Runtime, scope: Scope, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
    return {record.id: record for record in runtime.chunks.get(chunk_ids, scope.tenant_ids)}


def document_metadata(runtime: Runtime, document_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The ``meta_fields`` of these documents, by id."""
    if not document_ids:
        return {}
    with runtime.read() as session:
        rows = session.execute(
            select(Document.id, Document.meta_fields).where(Document.id.in_(set(document_ids)))
        ).all()
    return {document_id: dict(meta or {}) for document_id, meta in rows}


def query_vector(runtime: Runtime, scope: Scope, question: str) -> np.ndarray:
    """The question's embedding with the datasets' model, called with the credentials of the
    first datasets' tenant."""
    return runtime.question_vector(scope.embedding_model, scope.embedding_tenant, question)


def with_hits(result: SearchResult | None, extra: Sequence[Hit]) -> SearchResult:
    """The result with ``extra`` hits after its own (each chunk once), a document new to it
    counted once (web pages, chunks pulled in by a table of contents)."""
    base = result if result is not None else EMPTY
    known = {hit.chunk.id for hit in base.hits}
    added: list[Hit] = []
    for hit in extra:
        if hit.chunk.id not in known:
            known.add(hit.chunk.id)
            added.append(hit)
    documents = list(base.documents)
    seen = {document.document_id for document in documents}
    for hit in added:
        if hit.chunk.document_id not in seen:
            seen.add(hit.chunk.document_id)
            documents.append(DocumentCount(hit.chunk.document_id, hit.chunk.document_name, 1))
    return SearchResult(base.total + len(added), [*base.hits, *added], documents)
