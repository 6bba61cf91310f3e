"""Answering with a chat assistant: refine the question, retrieve, prompt, stream, cite.

``answer`` is the pipeline, shared by the native and the OpenAI-compatible endpoints: it takes
a snapshot of the assistant and the conversation and yields ``Event``s — answer text, reasoning
text, then one ``final`` event with the whole answer (citations inserted) and its reference.
``services.chat_turns`` and ``services.openai_chat`` turn events into the endpoints' answers
(and store what was said in a session); ``ask_events`` does it for ``/sessions/ask``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ragserve.db.models import TenantModel
from ragserve.errors import DataError, RagserveError
from ragserve.models.chat import ChatError, ChatModel
from ragserve.models.registry import ModelType, find_model, split_model_id
from ragserve.rag import citations, hybrid
from ragserve.rag.prompt import (
    ASK_PROMPT,
    NO_MODEL_NOTE,
    REFINE_PROMPT,
    RELATED_PROMPT,
    Variable,
    fit_history,
    knowledge_block,
    system_prompt,
)
from ragserve.rag.think import ThinkSplitter
from ragserve.runtime import Runtime
from ragserve.schemas.chunks import readable_positions
from ragserve.schemas.completions import (
    AskAnswer,
    ChatReference,
    DocumentCount,
    ReferenceChunk,
    StreamEvent,
)
from ragserve.schemas.metadata_condition import MetadataCondition
from ragserve.services import chat_search, deep_research, retrieval, table_sql
from ragserve.services.chat_search import ChatSearch
from ragserve.services.chats import live_chat
from ragserve.services.datasets import stats_for
from ragserve.services.models import tenant_chat_model
from ragserve.services.retrieval import Hit, Scope, SearchOptions, SearchResult
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 8192
KNOWLEDGE_SHARE = 0.6
"""Share of the model's context the retrieved passages may fill."""
EXTRACTIVE_PASSAGES = 3


@dataclass(frozen=True)
class Assistant:
    """What answering needs of a chat assistant, read once from its row."""

    id: str
    tenant_id: str
    llm_id: str
    llm_setting: dict[str, Any]
    prompt_config: dict[str, Any]
    dataset_ids: tuple[str, ...]
    similarity_threshold: float
    vector_similarity_weight: float
    top_n: int
    top_k: int
    rerank_id: str
    context_tokens: int

    @property
    def variables(self) -> list[Variable]:
        raw = self.prompt_config.get("parameters") or []
        return [
            Variable(str(item.get("key")), bool(item.get("optional")))
            for item in raw
            if isinstance(item, dict) and item.get("key")
        ]


@dataclass(frozen=True)
class Request:
    """One question in context: the conversation (ending with the user's message) and the
    per-call options of the completion endpoints."""

    messages: list[dict[str, str]]
    quote: bool = True
    document_ids: tuple[str, ...] = ()
    extra_dataset_ids: tuple[str, ...] = ()
    metadata_condition: MetadataCondition | None = None
    values: dict[str, str] = field(default_factory=dict)
    reasoning: bool | None = None
    """Deep research for this question; ``None``: as the assistant's ``reasoning`` says."""


@dataclass(frozen=True)
class Final:
    answer: str
    """The whole answer, citations normalised (and inserted when the model wrote none)."""
    reference: ChatReference
    """``{"total", "chunks", "doc_aggs"}``, or ``{}`` when nothing was retrieved or quoting
    is off."""
    prompt: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Event:
    kind: Literal["text", "reasoning", "final"]
    text: str = ""
    final: Final | None = None


def load_assistant(runtime: Runtime, caller: Caller, chat_id: str) -> Assistant:
    with runtime.read() as session:
        chat = live_chat(session, caller, chat_id)
        if chat is None:
            raise DataError(f"You don't own the chat {chat_id}")
        llm_id = chat.llm_id or tenant_chat_model(session, runtime.settings, chat.tenant_id)
        return Assistant(
            id=chat.id,
            tenant_id=chat.tenant_id,
            llm_id=llm_id,
            llm_setting=dict(chat.llm_setting or {}),
            prompt_config=dict(chat.prompt_config or {}),
            dataset_ids=tuple(chat.dataset_ids or ()),
            similarity_threshold=chat.similarity_threshold,
            vector_similarity_weight=chat.vector_similarity_weight,
            top_n=chat.top_n,
            top_k=chat.top_k,
            rerank_id=chat.rerank_id,
            context_tokens=_context_tokens(session, chat.tenant_id, llm_id),
        )


def _context_tokens(session: Session, tenant_id: str, model_id: str) -> int:
    name, factory = split_model_id(model_id)
    row = session.scalars(
        select(TenantModel.max_tokens).where(
            TenantModel.tenant_id == tenant_id, TenantModel.name == name
        )
    ).first()
    if row:
        return int(row)
    spec = find_model(f"{name}@{factory}", ModelType.CHAT) if factory else None
    return spec.max_tokens if spec else DEFAULT_CONTEXT_TOKENS


def answer(runtime: Runtime, assistant: Assistant, request: Request) -> Iterator[Event]:
    """The assistant's answer to the last user message, as events (see module docstring)."""
    started = time.monotonic()
    chat = runtime.chat_model(assistant.llm_id, assistant.tenant_id) if assistant.llm_id else None
    question = request.messages[-1]["content"]
    if chat is not None:
        computed = table_sql.answer(runtime, assistant.dataset_ids, chat, question)
        if computed is not None:
            yield from _final_only(computed)
            return
    asked = ChatSearch.of(runtime, assistant.prompt_config)
    result: SearchResult | None
    scope: Scope | None
    if chat is not None and _researching(assistant, request, asked):
        result, scope = yield from _research(runtime, assistant, request, chat, question, asked)
    else:
        retrieved = _retrieve(runtime, assistant, request, chat, question, asked)
        result, scope = retrieved if retrieved is not None else (None, None)
    hits = result.hits if result is not None else []
    empty_response = str(assistant.prompt_config.get("empty_response") or "")
    if result is not None and not hits and empty_response:
        yield from _final_only(empty_response)
        return
    knowledge_budget = int(assistant.context_tokens * KNOWLEDGE_SHARE)
    knowledge, fitted = knowledge_block([hit.chunk for hit in hits], knowledge_budget)
    hits = hits[:fitted]
    if chat is None:
        yield from _extractive(hits, result, request.quote)
        return
    values = {**request.values}
    if result is not None:
        values["knowledge"] = knowledge
    quote = request.quote and bool(assistant.prompt_config.get("quote", True)) and bool(hits)
    system = system_prompt(
        str(assistant.prompt_config.get("system") or ""), assistant.variables, values, quote
    )
    max_answer = int(assistant.llm_setting.get("max_tokens") or 512)
    system_tokens = count_tokens(system)
    history_budget = max(
        assistant.context_tokens - system_tokens - max_answer, count_tokens(question) + 8
    )
    history = fit_history(request.messages, history_budget)
    messages = [{"role": "system", "content": system}, *history]
    prompt_tokens = system_tokens + 4 + sum(count_tokens(m["content"]) + 4 for m in history)
    text_parts: list[str] = []
    reasoning_parts: list[str] = []
    splitter = ThinkSplitter()
    for delta in chat.stream(messages, assistant.llm_setting):
        pieces = [(True, delta.reasoning)] if delta.reasoning else []
        pieces += splitter.feed(delta.text) if delta.text else []
        for reasoning, text in pieces:
            (reasoning_parts if reasoning else text_parts).append(text)
            yield Event("reasoning" if reasoning else "text", text)
    for reasoning, text in splitter.flush():
        (reasoning_parts if reasoning else text_parts).append(text)
        yield Event("reasoning" if reasoning else "text", text)
    full = "".join(text_parts)
    completion_tokens = count_tokens(full) + count_tokens("".join(reasoning_parts))
    reference: ChatReference = {}
    if quote and result is not None:
        full = _cite(runtime, scope, full, hits)
        reference = _reference(hits, result, full)
    prompt = (
        f"{system}\n\n### Query:\n{question}\n\n### Elapsed: {time.monotonic() - started:.3f} s"
    )
    yield Event("final", final=Final(full, reference, prompt, prompt_tokens, completion_tokens))


def _retrieve(
    runtime: Runtime,
    assistant: Assistant,
    request: Request,
    chat: ChatModel | None,
    question: str,
    asked: ChatSearch,
) -> tuple[SearchResult, Scope | None] | None:
    """The passages for the question (and web pages when the assistant searches the web) and
    where they were searched; ``None`` for an assistant without datasets or web search."""
    scope = _scope(runtime, assistant, request, question)
    if scope is None and asked.web is None:
        return None
    if chat is not None and assistant.prompt_config.get("refine_multiturn", True):
        question = _refined(chat, request.messages) or question
    result = None
    if scope is not None:
        options, rerank = _search_settings(runtime, assistant)
        result = chat_search.search(runtime, scope, question, options, chat, asked, rerank)
    if asked.web is not None:
        pages = chat_search.web_hits(asked.web, question, asked.web_results)
        result = retrieval.with_hits(result, pages)
    return result or retrieval.EMPTY, scope


def _scope(runtime: Runtime, assistant: Assistant, request: Request, question: str) -> Scope | None:
    """Where the question may be searched; ``None`` for an assistant without datasets."""
    dataset_ids = list(dict.fromkeys([*assistant.dataset_ids, *request.extra_dataset_ids]))
    if not dataset_ids:
        return None
    caller = Caller(assistant.tenant_id, assistant.tenant_id, CredentialKind.API_TOKEN)
    with runtime.read() as session:
        return retrieval.resolve_scope(
            session,
            caller,
            dataset_ids,
            list(request.document_ids),
            request.metadata_condition if question.strip() else None,
            scopes=runtime.caches.metadata_scopes,
        )


def _search_settings(
    runtime: Runtime, assistant: Assistant
) -> tuple[SearchOptions, hybrid.Rerank | None]:
    options = SearchOptions(
        page_size=max(assistant.top_n, 1),
        similarity_threshold=assistant.similarity_threshold,
        vector_similarity_weight=assistant.vector_similarity_weight,
        top_k=max(assistant.top_k, 1),
    )
    rerank = (
        runtime.rerank_model(assistant.rerank_id, assistant.tenant_id).scores
        if assistant.rerank_id
        else None
    )
    return options, rerank


def _researching(assistant: Assistant, request: Request, asked: ChatSearch) -> bool:
    """Deep research when asked for (the request, else the assistant) and there is somewhere
    to search."""
    wanted = request.reasoning
    if wanted is None:
        wanted = bool(assistant.prompt_config.get("reasoning"))
    has_datasets = bool(assistant.dataset_ids or request.extra_dataset_ids)
    return wanted and (has_datasets or asked.web is not None)


def _research(
    runtime: Runtime,
    assistant: Assistant,
    request: Request,
    chat: ChatModel,
    question: str,
    asked: ChatSearch,
) -> Generator[Event, None, tuple[SearchResult, Scope | None]]:
    """Deep research (``services.deep_research``), its steps as reasoning events; returns
    every passage it gathered."""
    scope = _scope(runtime, assistant, request, question)
    if assistant.prompt_config.get("refine_multiturn", True):
        question = _refined(chat, request.messages) or question
    options, rerank = _search_settings(runtime, assistant)
    plain = replace(asked, keyword=False, cross_languages=(), web=None)

    def search(query: str) -> list[Hit]:
        if scope is None:
            return []
        return chat_search.search(runtime, scope, query, options, chat, plain, rerank).hits

    settings = runtime.settings
    limits = deep_research.Limits(
        settings.research_max_rounds, settings.research_max_tokens, asked.web_results
    )
    steps = deep_research.gather(chat, question, search, asked.web, limits)
    while True:
        try:
            text = next(steps)
        except StopIteration as done:
            research: deep_research.Research = done.value
            break
        yield Event("reasoning", text)
    return retrieval.with_hits(None, research.hits), scope


def _refined(chat: ChatModel, messages: Sequence[Mapping[str, str]]) -> str | None:
    """The last question rewritten to stand alone, when there are earlier user turns."""
    if sum(1 for m in messages if m["role"] == "user") < 2:
        return None
    conversation = "\n".join(f"{m['role']}: {m['content']}" for m in messages[-8:])
    try:
        refined = chat.complete(
            [
                {"role": "system", "content": REFINE_PROMPT},
                {"role": "user", "content": conversation},
            ],
            max_tokens=256,
        ).strip()
    except ChatError as error:
        logger.warning("question refinement failed, searching the question as asked: %s", error)
        return None
    return refined or None


def _cite(runtime: Runtime, scope: Scope | None, text: str, hits: list[Hit]) -> str:
    text = citations.drop_invalid(citations.normalise(text), len(hits))
    if citations.cited(text, len(hits)) or not hits or scope is None or not scope.embedding_model:
        return text
    model = runtime.embedding_model(scope.embedding_model, scope.embedding_tenant)
    return citations.insert_citations(text, [hit.chunk.vector for hit in hits], model.embed)


def _reference(hits: list[Hit], result: SearchResult, text: str) -> ChatReference:
    chunks = [reference_chunk(hit) for hit in hits]
    used = {hits[i].chunk.document_id for i in citations.cited(text, len(hits))}
    documents = [d for d in result.documents if not used or d.document_id in used]
    return {
        "total": len(chunks),
        "chunks": chunks,
        "doc_aggs": [
            DocumentCount(doc_name=d.document_name, doc_id=d.document_id, count=d.count)
            for d in documents
        ],
    }


def reference_chunk(hit: Hit) -> ReferenceChunk:
    chunk = hit.chunk
    return {
        "id": chunk.id,
        "content": chunk.content,
        "document_id": chunk.document_id,
        "document_name": chunk.document_name,
        "dataset_id": chunk.dataset_id,
        "image_id": chunk.image_id,
        "positions": readable_positions(chunk.positions),
        "url": hit.url,
        "similarity": hit.similarity,
        "vector_similarity": hit.vector_similarity,
        "term_similarity": hit.term_similarity,
        "doc_type": "",
    }


def _extractive(hits: list[Hit], result: SearchResult | None, quote: bool) -> Iterator[Event]:
    """No chat model: the best passages, cited, after a note saying so."""
    if not hits:
        text = "No generative model is configured for this assistant, and no passage matches."
        yield from _final_only(text)
        return
    shown = hits[:EXTRACTIVE_PASSAGES]
    parts = [NO_MODEL_NOTE]
    for number, hit in enumerate(shown):
        marker = f" [ID:{number}]" if quote else ""
        parts.append(f"{hit.chunk.content.strip()}{marker}")
    text = "\n\n".join(parts)
    for start in range(0, len(text), 200):
        yield Event("text", text[start : start + 200])
    reference = _reference(shown, result, text) if quote and result is not None else {}
    yield Event("final", final=Final(text, reference, "", 0, count_tokens(text)))


def _final_only(text: str) -> Iterator[Event]:
    yield Event("text", text)
    yield Event("final", final=Final(text, {}, "", 0, count_tokens(text)))


# --- asking datasets without an assistant -------------------------------------------------------

RELATED_COUNT = 5
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.+)$")


@dataclass(frozen=True)
class AskSettings:
    """How an ad-hoc assistant searches and answers: ``/sessions/ask``'s defaults, or a saved
    search app's config (``services.search_bots``)."""

    llm_id: str = ""
    """The chat model; "": the tenant's default."""
    similarity_threshold: float = 0.2
    vector_similarity_weight: float = 0.3
    top_n: int = 6
    top_k: int = 1024
    rerank_id: str = ""
    parsed_only: bool = True
    """Refuse a dataset without parsed chunks (``/sessions/ask``'s check)."""


ASK_DEFAULTS = AskSettings()


def ad_hoc_assistant(
    runtime: Runtime,
    caller: Caller,
    dataset_ids: Sequence[str],
    settings: AskSettings = ASK_DEFAULTS,
) -> Assistant:
    """An assistant over these datasets with the tenant's chat model (or ``settings.llm_id``)
    and ``settings``; every dataset must be visible to the caller (and, with
    ``parsed_only``, hold parsed chunks)."""
    with runtime.read() as session:
        scope = retrieval.resolve_scope(session, caller, dataset_ids)
        counts = stats_for(session, list(scope.dataset_ids))
        for dataset_id in scope.dataset_ids if settings.parsed_only else ():
            if not counts.get(dataset_id) or counts[dataset_id].chunk_count <= 0:
                raise DataError(f"The dataset {dataset_id} doesn't own parsed file")
        llm_id = settings.llm_id or tenant_chat_model(session, runtime.settings, caller.tenant_id)
        return Assistant(
            id="",
            tenant_id=caller.tenant_id,
            llm_id=llm_id,
            llm_setting={},
            prompt_config={
                "system": ASK_PROMPT,
                "parameters": [{"key": "knowledge", "optional": False}],
                "quote": True,
            },
            dataset_ids=scope.dataset_ids,
            similarity_threshold=settings.similarity_threshold,
            vector_similarity_weight=settings.vector_similarity_weight,
            top_n=settings.top_n,
            top_k=settings.top_k,
            rerank_id=settings.rerank_id,
            context_tokens=_context_tokens(session, caller.tenant_id, llm_id),
        )


def ask_events(
    runtime: Runtime,
    assistant: Assistant,
    question: str,
    document_ids: Sequence[str] = (),
) -> Iterator[StreamEvent]:
    """The answer to a question over the assistant's datasets (only ``document_ids`` when
    given) as ``/sessions/ask`` streams it (spec 4.5): text events, a final one with the
    reference, then ``data: true``. A failure becomes an error event; the stream still ends
    normally."""
    request = Request(
        messages=[{"role": "user", "content": question}], document_ids=tuple(document_ids)
    )
    try:
        for event in answer(runtime, assistant, request):
            if event.final is not None:
                data = AskAnswer(answer="", reference=event.final.reference, final=True)
            elif event.kind == "text":
                data = AskAnswer(answer=event.text, reference={}, final=False)
            else:
                continue
            yield StreamEvent(message="", data=data)
    except RagserveError as error:
        yield StreamEvent.failure(error.message)
    except Exception:
        logger.exception("ask over datasets %s failed", assistant.dataset_ids)
        yield StreamEvent.failure("Internal error while answering; see the server log.")
    yield StreamEvent(message="", data=True)


def related_questions(
    runtime: Runtime, caller: Caller, question: str, industry: str, llm_id: str = ""
) -> list[str]:
    """Search queries related to the question, from ``llm_id`` or the tenant's chat model."""
    with runtime.read() as session:
        llm_id = llm_id or tenant_chat_model(session, runtime.settings, caller.tenant_id)
    if not llm_id:
        raise DataError("No chat model is configured for this tenant.")
    where = f" in the {industry} industry" if industry else ""
    prompt = RELATED_PROMPT.format(count=RELATED_COUNT, industry=where)
    reply = runtime.chat_model(llm_id, caller.tenant_id).complete(
        [{"role": "system", "content": prompt}, {"role": "user", "content": question}],
        max_tokens=256,
    )
    found = (_NUMBERED.match(line) for line in reply.splitlines())
    return [match.group(1).strip() for match in found if match]
