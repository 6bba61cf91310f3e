"""Searching for a chat question as the assistant's prompt settings ask (spec 2.5):

* ``keyword``: the chat model extracts keywords, appended to the question (as RAGFlow does), so
  they join the full-text query with the weight of the question's own words, and the embedded
  query too;
* ``cross_languages``: the chat model translates the question into each language; the question
  and every translation are searched and the results merged (a chunk keeps its best score);
* ``toc_enhance``: the tables of contents of the best hits' documents (extracted at parse time,
  ``services.toc``) pull in the chunks under the headings that match the question;
* ``tavily_api_key``: web pages found for the question join the passages, with their URLs.

Each model step is best effort: if it fails, the search goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xxhash

from ragserve.models.chat import ChatModel
from ragserve.models.web_search import WebSearch, WebSearchError, web_search_for
from ragserve.rag import hybrid
from ragserve.rag.question import keywords, translations
from ragserve.runtime import Runtime
from ragserve.services import retrieval, toc
from ragserve.services.retrieval import DocumentCount, Hit, Scope, SearchOptions, SearchResult
from ragserve.store.base import ChunkRecord
from ragserve.tokenizer import tokenize_to_text

logger = logging.getLogger(__name__)

MAX_LANGUAGES = 5
"""``cross_languages`` beyond this many are ignored: each one is a search."""


@dataclass(frozen=True)
class ChatSearch:
    """The question options of an assistant (its ``prompt_config``)."""

    keyword: bool = False
    cross_languages: tuple[str, ...] = ()
    toc_enhance: bool = False
    use_kg: bool = False
    web: WebSearch | None = None
    web_results: int = 5

    @classmethod
    def of(cls, runtime: Runtime, prompt_config: dict[str, Any]) -> ChatSearch:
        languages = prompt_config.get("cross_languages") or []
        settings = runtime.settings
        return cls(
            keyword=bool(prompt_config.get("keyword")),
            cross_languages=tuple(
                str(language).strip()
                for language in (languages if isinstance(languages, list) else [])
                if str(language).strip()
            )[:MAX_LANGUAGES],
            toc_enhance=bool(prompt_config.get("toc_enhance")),
            use_kg=bool(prompt_config.get("use_kg")),
            web=web_search_for(
                prompt_config,
                tavily_base_url=settings.tavily_base_url,
                timeout=settings.llm_timeout,
            ),
            web_results=settings.web_search_results,
        )


def search(
    runtime: Runtime,
    scope: Scope,
    question: str,
    options: SearchOptions,
    chat: ChatModel | None,
    asked: ChatSearch,
    rerank: hybrid.Rerank | None = None,
) -> SearchResult:
    """The chunks for the question over ``scope`` with the assistant's options (not the web:
    see ``web_hits``)."""
    versions = [question]
    if chat is not None and asked.cross_languages:
        found = translations(chat, question, asked.cross_languages)
        versions += [line for line in found[: len(asked.cross_languages)] if line != question]
    if chat is not None and asked.keyword:
        extra = keywords(chat, question)
        versions = [" ".join([version, *extra]) for version in versions]
    results = [retrieval.search(runtime, scope, version, options, rerank) for version in versions]
    result = merge(results, options.page_size)
    if asked.toc_enhance:
        result = toc.enhance(runtime, scope, question, result, options.page_size)
    if asked.use_kg:
        result = retrieval.with_graph(runtime, scope, question, result)
    return result


def merge(results: Sequence[SearchResult], limit: int) -> SearchResult:
    """One result from several searches: each chunk once with its best score, best first, at
    most ``limit``; a document's count is its highest in any search, ``total`` the highest."""
    if len(results) == 1:
        return results[0]
    best: dict[str, Hit] = {}
    for result in results:
        for hit in result.hits:
            if hit.chunk.id not in best or hit.similarity > best[hit.chunk.id].similarity:
                best[hit.chunk.id] = hit
    hits = sorted(best.values(), key=lambda hit: -hit.similarity)[:limit]
    counts: dict[str, DocumentCount] = {}
    for result in results:
        for document in result.documents:
            known = counts.get(document.document_id)
            if known is None or document.count > known.count:
                counts[document.document_id] = document
    documents = sorted(counts.values(), key=lambda document: -document.count)
    return SearchResult(max(r.total for r in results), hits, documents)


def web_hits(web: WebSearch, query: str, count: int) -> list[Hit]:
    """Web pages for the query as hits whose ``url`` is set; none if the search fails."""
    try:
        pages = web.search(query, count)
    except WebSearchError as error:
        logger.warning("web search failed, answering without it: %s", error.message)
        return []
    hits = []
    for page in pages:
        page_id = xxhash.xxh64_hexdigest(page.url.encode())
        record = ChunkRecord(
            id=page_id,
            tenant_id="",
            dataset_id="",
            document_id=page_id,
            document_name=page.title,
            content=page.content,
            content_tokens=tokenize_to_text(page.content),
        )
        score = page.score
        hits.append(Hit(record, score, 0.0, score, url=page.url))
    return hits
