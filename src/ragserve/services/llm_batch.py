"""Many chat-model calls of one dataset task (RAPTOR summaries, graph extraction…), cached.

Each answer is stored in ``llm_cache`` as soon as it arrives, keyed by the tenant, the step,
the model, the reply budget and the whole conversation, so a task run again (or taken over
after its worker died) pays only for what was not answered yet. Calls run
``chunk_llm_concurrency`` at once; after each answer ``report`` renews the task's lease, which
is where a cancelled task stops (the calls under way finish and are cached, the others are
dropped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ragserve.db.models import LlmCache
from ragserve.errors import RagserveError
from ragserve.models.chat import ChatModel
from ragserve.runtime import Runtime
from ragserve.services.auto_keywords import LOOKUP_BATCH, cache_key
from ragserve.services.models import add_used_tokens
from ragserve.tokenizer import count_tokens

Conversation = Sequence[Mapping[str, str]]
Renew = Callable[[], None]


class ModelCallError(RagserveError):
    """The model failed; the message names the step."""


def ask_all(
    runtime: Runtime,
    chat: ChatModel,
    *,
    tenant_id: str,
    model_id: str,
    step: str,
    conversations: Sequence[Conversation],
    max_tokens: int,
    renew: Renew,
) -> list[str]:
    """The model's reply to each conversation, in order, from the cache where it was asked
    before. A failing model raises ``ModelCallError`` naming ``step``."""
    lookups = [
        cache_key(tenant_id, step, model_id, str(max_tokens), json.dumps(list(c), sort_keys=True))
        for c in conversations
    ]
    known = _cached(runtime, lookups)

    def ask(index: int) -> str:
        if lookups[index] in known:
            return known[lookups[index]]
        messages = conversations[index]
        try:
            reply = chat.complete(messages, max_tokens=max_tokens)
        except RagserveError as error:
            raise ModelCallError(f"{step} failed: {error.message}") from None
        tokens = sum(count_tokens(m.get("content", "")) for m in messages) + count_tokens(reply)
        _store(runtime, tenant_id, model_id, step, lookups[index], reply, tokens)
        return reply

    if not conversations:
        return []
    # The first call goes alone: a model that refuses costs one call, and the provider's
    # client (LiteLLM keeps one per credentials) exists before the threads share it.
    replies = [ask(0)]
    renew()
    pool = ThreadPoolExecutor(
        max_workers=max(1, runtime.settings.chunk_llm_concurrency), thread_name_prefix="llm"
    )
    try:
        for reply in pool.map(ask, range(1, len(conversations))):
            replies.append(reply)
            renew()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return replies


def _cached(runtime: Runtime, lookups: Sequence[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(lookups))
    found: dict[str, str] = {}
    with runtime.read() as session:
        for start in range(0, len(wanted), LOOKUP_BATCH):
            rows = session.execute(
                select(LlmCache.lookup, LlmCache.answer).where(
                    LlmCache.lookup.in_(wanted[start : start + LOOKUP_BATCH])
                )
            )
            found.update((lookup, str((answer or [""])[0])) for lookup, answer in rows)
    return found


def _store(
    runtime: Runtime,
    tenant_id: str,
    model_id: str,
    step: str,
    lookup: str,
    reply: str,
    tokens: int,
) -> None:
    with runtime.transaction() as session:
        row = LlmCache(
            tenant_id=tenant_id, lookup=lookup, kind=step[:16], answer=[reply], tokens=tokens
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            pass  # the same call answered by a concurrent task
        add_used_tokens(session, tenant_id, model_id, tokens)
