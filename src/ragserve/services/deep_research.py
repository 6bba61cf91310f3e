"""Deep research (an assistant's ``reasoning``): plan, search, review, within bounds.

The chat model first breaks the question into at most ``MAX_QUERIES`` search queries
(``RESEARCH_PLAN_PROMPT``). Each query is searched in the assistant's datasets (and on the web
when it has a web search); then the model reviews what was found (``RESEARCH_CHECK_PROMPT``)
and either says it is enough or names new queries for another round. Research stops when the
model is satisfied, after ``research_max_rounds`` rounds, or when the tokens sent to and
received from the model reach ``research_max_tokens``. Every step is reported as a line of
reasoning text; the caller then answers from every passage gathered.

``gather`` is a generator: it yields the reasoning lines and returns the ``Research``. A caller
that stops iterating (the client went away) stops it between two steps: no further model call
or search is made.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from ragserve.models.chat import ChatModel
from ragserve.models.web_search import WebSearch
from ragserve.rag.prompt import RESEARCH_CHECK_PROMPT, RESEARCH_PLAN_PROMPT
from ragserve.rag.research import numbered_items, verdict
from ragserve.services.chat_search import web_hits
from ragserve.services.retrieval import Hit
from ragserve.tokenizer import count_tokens

MAX_QUERIES = 3
"""Queries per round."""
FINDINGS_PER_QUERY = 3
SNIPPET_CHARS = 300
STEP_TOKENS = 256
"""Longest reply of a planning or review step."""


@dataclass(frozen=True)
class Limits:
    rounds: int
    tokens: int
    web_results: int = 5


@dataclass(frozen=True)
class Research:
    hits: list[Hit]
    """Every passage found, each once, in the order found."""
    queries: list[str]
    tokens: int
    """Tokens sent to and received from the model by planning and review."""


Search = Callable[[str], list[Hit]]


def gather(
    chat: ChatModel,
    question: str,
    search: Search,
    web: WebSearch | None,
    limits: Limits,
) -> Generator[str, None, Research]:
    """Research the question (see the module docstring); yields reasoning text."""
    spent = 0

    def ask(system: str, user: str) -> str:
        nonlocal spent
        reply = chat.complete(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=STEP_TOKENS,
        )
        spent += count_tokens(system) + count_tokens(user) + count_tokens(reply) + 8
        return reply

    where = " and the web" if web is not None else ""
    yield f"Planning how to research the question in the knowledge base{where}.\n"
    plan = RESEARCH_PLAN_PROMPT.format(count=MAX_QUERIES, web=" (and the web)" if web else "")
    queries = numbered_items(ask(plan, question), MAX_QUERIES) or [question]
    found: dict[str, Hit] = {}
    done: list[str] = []
    findings: list[str] = []
    for round_number in range(1, limits.rounds + 1):
        yield f"\nRound {round_number}, searching for:\n" + "".join(
            f"{n}. {query}\n" for n, query in enumerate(queries, 1)
        )
        for query in queries:
            hits = search(query)
            if web is not None:
                hits = [*hits, *web_hits(web, query, limits.web_results)]
            new = [hit for hit in hits if hit.chunk.id not in found]
            for hit in new:
                found[hit.chunk.id] = hit
            done.append(query)
            findings.append(_findings(query, hits))
            yield f"- {query}: {_summary(hits, len(new))}\n"
        if round_number == limits.rounds:
            yield f"\nStopping after {limits.rounds} rounds (the limit); answering.\n"
            break
        review = _review(question, findings)
        check = RESEARCH_CHECK_PROMPT.format(count=MAX_QUERIES)
        if spent + count_tokens(check) + count_tokens(review) + STEP_TOKENS > limits.tokens:
            yield f"\nStopping: the budget of {limits.tokens} tokens is spent; answering.\n"
            break
        outcome = verdict(ask(check, review), MAX_QUERIES)
        asked = {query.lower() for query in done}
        queries = [query for query in outcome.queries if query.lower() not in asked]
        if outcome.enough or not queries:
            yield "\nThe findings are enough to answer.\n"
            break
        yield "\nSomething is still missing.\n"
    return Research(list(found.values()), done, spent)


def _summary(hits: list[Hit], new: int) -> str:
    if not hits:
        return "nothing found"
    names = list(dict.fromkeys(hit.chunk.document_name for hit in hits))
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"{len(hits)} passages ({new} new) from {shown}"


def _findings(query: str, hits: list[Hit]) -> str:
    if not hits:
        return f"Search: {query}\n  (nothing found)"
    lines = [f"Search: {query}"]
    for hit in hits[:FINDINGS_PER_QUERY]:
        text = " ".join(hit.chunk.content.split())[:SNIPPET_CHARS]
        lines.append(f"  - {hit.chunk.document_name}: {text}")
    return "\n".join(lines)


def _review(question: str, findings: list[str]) -> str:
    return f"Question: {question}\n\nFindings so far:\n" + "\n".join(findings)
