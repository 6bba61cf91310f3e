"""``POST /api/v1/retrieval`` (spec 5): hybrid search over datasets the caller can see."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends

from ragserve.api.body import json_object
from ragserve.api.deps import ApiCaller, RuntimeDep
from ragserve.api.envelope import api_result
from ragserve.errors import DataError, RagserveError
from ragserve.schemas.common import MAX_PAGE, MAX_PAGE_SIZE
from ragserve.schemas.metadata_condition import parse_metadata_condition
from ragserve.services import retrieval
from ragserve.services.retrieval import Hit, SearchOptions, SearchResult

router = APIRouter(prefix="/api/v1", tags=["retrieval"])

JsonBody = Annotated[dict[str, Any], Depends(json_object)]
MAX_TOP_K = 10_000

Number = TypeVar("Number", int, float)


@router.post("/retrieval")
def retrieve(runtime: RuntimeDep, caller: ApiCaller, body: JsonBody) -> dict[str, Any]:
    """Chunks most similar to ``question``: full text and vectors fused, best first."""
    dataset_ids = body.get("dataset_ids")
    if not dataset_ids:
        raise DataError("`dataset_ids` is required.")
    if not isinstance(dataset_ids, list):
        raise DataError("`dataset_ids` should be a list")
    document_ids = body.get("document_ids") or []
    if not isinstance(document_ids, list):
        raise DataError("`documents` should be a list")
    condition = parse_metadata_condition(body.get("metadata_condition") or None)
    with runtime.read() as session:
        scope = retrieval.resolve_scope(
            session,
            caller,
            [str(i) for i in dataset_ids],
            [str(i) for i in document_ids],
            condition,
        )
    question = body.get("question")
    if question is None:
        raise DataError("`question` is required.")
    options = search_options(body)
    cross_languages = body.get("cross_languages") or []
    if not isinstance(cross_languages, list) or not all(
        isinstance(language, str) for language in cross_languages
    ):
        raise DataError("`cross_languages` should be a list of language names")
    rerank_id = body.get("rerank_id") or None
    if rerank_id is not None and not isinstance(rerank_id, str):
        raise DataError("`rerank_id` should be a model name")
    if not isinstance(question, str) or not question.strip() or scope.document_ids == ():
        return api_result({"total": 0, "chunks": [], "doc_aggs": {}})
    question = retrieval.rewrite_question(
        runtime,
        caller.tenant_id,
        question,
        keyword=bool(body.get("keyword")),
        cross_languages=cross_languages,
    )
    rerank = runtime.rerank_model(rerank_id, caller.tenant_id).scores if rerank_id else None
    result = retrieval.search(runtime, scope, question, options, rerank)
    return api_result(result_wire(result))


def search_options(body: dict[str, Any]) -> SearchOptions:
    """Paging and scoring parameters with RAGFlow's defaults; bad values are code-100 errors."""
    highlight = body.get("highlight", True)
    return SearchOptions(
        page=_number(body, "page", 1, int, 1, MAX_PAGE),
        page_size=_number(body, "page_size", 30, int, 1, MAX_PAGE_SIZE),
        similarity_threshold=_number(body, "similarity_threshold", 0.2, float, 0.0, 1.0),
        vector_similarity_weight=_number(body, "vector_similarity_weight", 0.3, float, 0.0, 1.0),
        top_k=_number(body, "top_k", 1024, int, 1, MAX_TOP_K),
        highlight=highlight not in (False, "false", "False", 0, None),
    )


def _number(
    body: dict[str, Any], name: str, default: Number, kind: type[Number], low: Number, high: Number
) -> Number:
    raw = body.get(name)
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool) or (
            kind is int and isinstance(raw, float) and not raw.is_integer()
        ):
            raise ValueError
        value = kind(raw)
    except (TypeError, ValueError):
        raise RagserveError(f"`{name}` must be {_kind_name(kind)}, got {raw!r}.") from None
    if not low <= value <= high:
        raise RagserveError(f"`{name}` must be between {low} and {high}, got {raw!r}.")
    return value


def _kind_name(kind: type) -> str:
    return "an integer" if kind is int else "a number"


def result_wire(result: SearchResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "chunks": [hit_wire(hit) for hit in result.hits],
        "doc_aggs": [
            {"doc_name": d.document_name, "doc_id": d.document_id, "count": d.count}
            for d in result.documents
        ],
    }


def hit_wire(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    wire: dict[str, Any] = {
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
        "positions": [list(p) for p in chunk.positions if len(p) == 5],
        "doc_type_kwd": "",
        "mom_id": "",
    }
    if hit.highlight is not None:
        wire["highlight"] = hit.highlight
    return wire
