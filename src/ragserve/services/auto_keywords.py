"""Auto keywords and questions: while a document is parsed, the chat model writes
``parser_config.auto_keywords`` keywords and ``auto_questions`` questions for every chunk.

They become the chunk's ``important_keywords`` and ``questions``, added after any the chunker
found, so retrieval uses them exactly as hand-written ones (full-text keyword field, and the
questions are what the chunk's vector embeds). The model is the dataset's ``llm_id``, else
the tenant's chat model; a dataset whose settings ask for this without any chat model is
refused at create/update (``require_chat_model``), and a parse that finds none fails.

One model call per chunk and per step (keywords, questions), at most
``chunk_llm_concurrency`` at once. Every answer is stored in ``llm_cache`` as soon as it
arrives, keyed by a digest of the tenant, the step, the model, the prompt (which holds N) and
the chunk's text: a re-parse, or a task taken over after its worker died, pays only for what
was not answered yet. Between answers the task's lease is renewed, which is where a stopped
parse stops (``Cancelled``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ragserve.db.models import Document, LlmCache
from ragserve.errors import DataError, RagserveError
from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.models.chat import ChatModel
from ragserve.rag.prompt import AUTO_KEYWORDS_PROMPT, AUTO_QUESTIONS_PROMPT
from ragserve.runtime import Runtime
from ragserve.services.models import add_used_tokens, tenant_chat_model
from ragserve.settings import Settings
from ragserve.tokenizer import count_tokens

KEYWORDS = "keywords"
QUESTIONS = "questions"
STEP = "Auto keywords and questions"

NO_MODEL = (
    "auto_keywords and auto_questions need a chat model to write them, and neither the dataset "
    "nor its tenant has one: set the tenant's chat model first, or set both to 0."
)
MAX_REPLY_TOKENS = 512
LOOKUP_BATCH = 500
"""Cache rows read per query (SQL parameter limits)."""


class AutoKeywordsError(RagserveError):
    """The step cannot finish (no model, the model refused): the task fails with this message."""


@dataclass(frozen=True)
class Wanted:
    """How many keywords and questions the config asks for per chunk."""

    keywords: int = 0
    questions: int = 0

    def __bool__(self) -> bool:
        return self.keywords > 0 or self.questions > 0


def wanted(parser_config: Mapping[str, Any] | None) -> Wanted:
    config = parser_config or {}
    return Wanted(_count(config.get("auto_keywords")), _count(config.get("auto_questions")))


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def model_for(
    session: Session, settings: Settings, tenant_id: str, parser_config: Mapping[str, Any]
) -> str:
    """The chat model that writes them: the config's ``llm_id``, else the tenant's."""
    return str(parser_config.get("llm_id") or "") or tenant_chat_model(session, settings, tenant_id)


def require_chat_model(
    session: Session, settings: Settings, tenant_id: str, parser_config: Mapping[str, Any]
) -> None:
    """Refuse (102) a config that asks for auto keywords or questions with no model to write
    them, rather than accept it and parse without them. (RAPTOR and GraphRAG, built on request,
    are refused when asked for: ``run_raptor``/``run_graphrag``; RAGFlow's clients send
    ``use_raptor``/``use_graphrag`` with every dataset, so refusing the setting would refuse
    them.)"""
    if wanted(parser_config) and not model_for(session, settings, tenant_id, parser_config):
        raise DataError(NO_MODEL)


@dataclass(frozen=True)
class Call:
    """One model call: a step for one chunk."""

    tenant_id: str
    index: int
    kind: str
    count: int
    system: str
    content: str
    lookup: str


@dataclass(frozen=True)
class Answer:
    call: Call
    items: list[str]
    tokens: int


Report = Callable[[str | None], None]
"""Renews the task's lease, logging the line when given; raises ``Cancelled`` when stopped."""


def enrich(
    runtime: Runtime, document: Document, drafts: Sequence[ChunkDraft], report: Report
) -> str:
    """Add the model's keywords and questions to ``drafts``; the progress line to log.
    Raises ``AutoKeywordsError`` when there is no model or it fails."""
    want = wanted(document.parser_config)
    with runtime.read() as session:
        model_id = model_for(session, runtime.settings, document.tenant_id, document.parser_config)
    if not model_id:
        raise AutoKeywordsError(f"{STEP} failed: {NO_MODEL}")
    calls = plan(document.tenant_id, model_id, want, drafts)
    answers = cached(runtime, calls)
    # Chunks of the same text are asked about once.
    todo = list({call.lookup: call for call in calls if call.lookup not in answers}.values())
    known = len({call.lookup for call in calls if call.lookup in answers})
    report(
        f"{STEP}: {want.keywords} keywords and {want.questions} questions per chunk by "
        f"{model_id}; {len(todo)} model calls, {known} answered from the cache."
    )
    chat = runtime.chat_model(model_id, document.tenant_id)
    tokens = 0
    step = max(1, len(todo) // 10)
    done = 0

    def work(call: Call) -> Answer:
        answer = ask(chat, call)
        _store(runtime, model_id, answer)  # kept at once: paid for, even if the parse stops now
        return answer

    with closing(_ask_all(work, todo, runtime.settings.chunk_llm_concurrency)) as arriving:
        for finished in arriving:
            for answer in finished:
                answers[answer.call.lookup] = answer.items
                tokens += answer.tokens
            before, done = done, done + len(finished)
            line = done == len(todo) or done // step != before // step
            report(f"{STEP}: {done}/{len(todo)} model calls." if line else None)
    _apply(drafts, calls, answers)
    return f"{STEP} done: {len(todo)} model calls ({tokens} tokens), {known} from the cache."


def plan(tenant_id: str, model_id: str, want: Wanted, drafts: Sequence[ChunkDraft]) -> list[Call]:
    steps = [
        (KEYWORDS, AUTO_KEYWORDS_PROMPT.format(count=want.keywords), want.keywords),
        (QUESTIONS, AUTO_QUESTIONS_PROMPT.format(count=want.questions), want.questions),
    ]
    calls = []
    for index, draft in enumerate(drafts):
        if not draft.content.strip():
            continue
        for kind, system, count in steps:
            if count:
                lookup = cache_key(tenant_id, kind, model_id, system, draft.content)
                calls.append(Call(tenant_id, index, kind, count, system, draft.content, lookup))
    return calls


def cache_key(tenant_id: str, kind: str, model_id: str, system: str, content: str) -> str:
    """The cache row's digest: a new model, prompt or text is a new call; tenants never share."""
    digest = hashlib.sha256()
    for part in (tenant_id, kind, model_id, system, content):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def cached(runtime: Runtime, calls: Sequence[Call]) -> dict[str, list[str]]:
    """The answers already stored, by lookup."""
    lookups = list(dict.fromkeys(call.lookup for call in calls))
    found: dict[str, list[str]] = {}
    with runtime.read() as session:
        for start in range(0, len(lookups), LOOKUP_BATCH):
            rows = session.execute(
                select(LlmCache.lookup, LlmCache.answer).where(
                    LlmCache.lookup.in_(lookups[start : start + LOOKUP_BATCH])
                )
            )
            for lookup, answer in rows:
                found[lookup] = [str(item) for item in answer or []]
    return found


def _ask_all(
    work: Callable[[Call], Answer], calls: Sequence[Call], bound: int
) -> Generator[list[Answer], None, None]:
    """The answers as they arrive, at most ``bound`` calls at a time; a new call starts only
    after the caller took the previous answers (and so had the chance to stop). Stopped or
    failed, the calls under way are waited for (each stores its answer), the others dropped.

    The first call goes alone: a model that refuses fails the task after one call, not
    ``bound``, and the provider's client (LiteLLM keeps one per credentials) exists before
    the threads share it."""
    if not calls:
        return
    waiting = iter(calls)
    yield [work(next(waiting))]
    pool = ThreadPoolExecutor(max_workers=bound, thread_name_prefix="auto-keywords")
    running: set[Future[Answer]] = set()
    try:
        for call in _take(waiting, bound):
            running.add(pool.submit(work, call))
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            yield [future.result() for future in finished]
            for call in _take(waiting, len(finished)):
                running.add(pool.submit(work, call))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _take(calls: Iterator[Call], count: int) -> list[Call]:
    return [call for _, call in zip(range(count), calls, strict=False)]


def ask(chat: ChatModel, call: Call) -> Answer:
    """One model call; a failing model becomes ``AutoKeywordsError`` naming the step."""
    try:
        reply = chat.complete(
            [{"role": "system", "content": call.system}, {"role": "user", "content": call.content}],
            max_tokens=MAX_REPLY_TOKENS,
        )
    except RagserveError as error:
        raise AutoKeywordsError(f"{STEP} failed: {error.message}") from None
    items = keyword_items(reply) if call.kind == KEYWORDS else question_items(reply)
    tokens = count_tokens(call.system) + count_tokens(call.content) + count_tokens(reply)
    return Answer(call, items, tokens)


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)、]|Q\d*[:.])\s*")


def keyword_items(reply: str) -> list[str]:
    """The keywords of a reply: comma- (or line-) separated, bullets and quotes removed."""
    parts = re.split(r"[,，、;；\n]", reply)
    return _unique(_BULLET.sub("", part).strip(" \t\"'`.") for part in parts)


def question_items(reply: str) -> list[str]:
    """The questions of a reply: one per line, numbering removed."""
    return _unique(_BULLET.sub("", line).strip(" \t\"'`") for line in reply.splitlines())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _store(runtime: Runtime, model_id: str, answer: Answer) -> None:
    """Keep the answer, so that no later parse pays for it again, and count its tokens on the
    tenant's model."""
    call = answer.call
    with runtime.transaction() as session:
        row = LlmCache(
            tenant_id=call.tenant_id,
            lookup=call.lookup,
            kind=call.kind,
            answer=answer.items,
            tokens=answer.tokens,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            pass  # another task (a page range with the same text) stored it first
        add_used_tokens(session, call.tenant_id, model_id, answer.tokens)


def _apply(
    drafts: Sequence[ChunkDraft], calls: Sequence[Call], answers: Mapping[str, list[str]]
) -> None:
    """Each chunk's keywords and questions: the chunker's, then the model's first N."""
    for call in calls:
        draft = drafts[call.index]
        items = answers.get(call.lookup, [])[: call.count]
        if call.kind == KEYWORDS:
            draft.important_keywords = _unique([*draft.important_keywords, *items])
        else:
            draft.questions = _unique([*draft.questions, *items])
