"""Tables of contents: extracted by the chat model when a document is parsed (its
``parser_config`` has ``toc_extraction: true``), used when a chat assistant with
``toc_enhance`` answers.

At parse time the model reads the beginning of every chunk, numbered, and answers the
document's headings with the chunks under each (``rag.prompt.TOC_PROMPT``). Each chunk keeps
the headings it sits under in ``fields["toc"]``, so the table lives and dies with the chunks
(re-parse, delete) and needs no storage of its own. At question time the tables of the best
hits' documents are read back from their chunks; a heading whose words are (mostly) in the
question pulls in its chunks, scored by how well it matched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ragserve.db.models import Document
from ragserve.ingest.chunkers.base import ChunkDraft
from ragserve.models.chat import ChatError, ChatModel
from ragserve.rag.prompt import TOC_PROMPT
from ragserve.rag.research import best_entries, toc_entries
from ragserve.runtime import Runtime
from ragserve.services.models import tenant_chat_model
from ragserve.services.retrieval import Hit, Scope, SearchResult, with_hits
from ragserve.tokenizer import count_tokens

logger = logging.getLogger(__name__)

FLAG = "toc_extraction"
"""The ``parser_config`` key that asks for a table of contents (as RAGFlow names it)."""
FIELD = "toc"
PASSAGE_CHARS = 200
"""The model sees the beginning of each chunk, where its heading is."""
BATCH_TOKENS = 6000
"""Passages per model call: one call per this many tokens of passages."""
TOC_DOCUMENTS = 3
"""At question time, the tables of the documents of this many best hits are read."""
TOC_ENTRIES = 3
MAX_DOCUMENT_CHUNKS = 1000


def wanted(parser_config: dict[str, Any] | None) -> bool:
    return bool((parser_config or {}).get(FLAG))


def add_toc(runtime: Runtime, document: Document, drafts: Sequence[ChunkDraft]) -> str:
    """Ask the model for the document's table of contents and write each heading into the
    ``fields`` of the chunks under it; the progress line to log. A model failure leaves the
    chunks without one (the document still parses)."""
    model_id = str(document.parser_config.get("llm_id") or "")
    if not model_id:
        with runtime.read() as session:
            model_id = tenant_chat_model(session, runtime.settings, document.tenant_id)
    if not model_id:
        return "Table of contents skipped: no chat model is configured."
    chat = runtime.chat_model(model_id, document.tenant_id)
    try:
        headings = extract(chat, drafts)
    except ChatError as error:
        return f"Table of contents skipped: {error.message}"
    return f"Table of contents: {headings} headings."


def extract(chat: ChatModel, drafts: Sequence[ChunkDraft]) -> int:
    """The table of contents into the drafts' ``fields``; how many headings were found."""
    headings = 0
    for start, end in _batches(drafts):
        passages = "\n".join(f"[{n}] {_beginning(drafts[n].content)}" for n in range(start, end))
        reply = chat.complete(
            [
                {"role": "system", "content": TOC_PROMPT.format()},
                {"role": "user", "content": passages},
            ],
            max_tokens=2048,
        )
        for entry in toc_entries(reply, end):
            inside = [n for n in entry.passages if n >= start]
            if not inside:
                continue
            headings += 1
            for n in inside:
                titles = drafts[n].fields.setdefault(FIELD, [])
                if entry.title not in titles:
                    titles.append(entry.title)
    return headings


def _beginning(content: str) -> str:
    """The chunk's start on one line, its lines joined by `` | `` (a heading stays apart)."""
    text = " | ".join(" ".join(line.split()) for line in content.splitlines() if line.strip())
    return text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + "…"


def _batches(drafts: Sequence[ChunkDraft]) -> list[tuple[int, int]]:
    batches: list[tuple[int, int]] = []
    start, used = 0, 0
    for n, draft in enumerate(drafts):
        cost = count_tokens(_beginning(draft.content)) + 4
        if n > start and used + cost > BATCH_TOKENS:
            batches.append((start, n))
            start, used = n, 0
        used += cost
    if start < len(drafts):
        batches.append((start, len(drafts)))
    return batches


def enhance(
    runtime: Runtime, scope: Scope, question: str, result: SearchResult, limit: int
) -> SearchResult:
    """The result with the chunks under the headings that match the question, from the
    tables of contents of the best hits' documents, at most ``limit`` more."""
    documents = list(dict.fromkeys(hit.chunk.document_id for hit in result.hits if not hit.url))
    pulled: list[Hit] = []
    for document_id in documents[:TOC_DOCUMENTS]:
        chunks, _total = runtime.chunks.list_document_chunks(document_id, limit=MAX_DOCUMENT_CHUNKS)
        chunks = [c for c in chunks if c.available and c.tenant_id in scope.tenant_ids]
        sections: dict[str, list[int]] = {}
        for index, chunk in enumerate(chunks):
            for title in chunk.fields.get(FIELD) or []:
                sections.setdefault(str(title), []).append(index)
        titles = list(sections)
        for entry, match in best_entries(question, titles, TOC_ENTRIES):
            for index in sections[titles[entry]]:
                pulled.append(Hit(chunks[index], match, match, 0.0))
    return with_hits(result, pulled[: max(limit, 0)]) if pulled else result
