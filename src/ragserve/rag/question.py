"""Rewriting a question with a chat model before search: keywords, and translations.

Both are best effort: a model failure leaves the question as it was, since an answer from the
original question beats no answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragserve.models.chat import ChatError, ChatModel
from ragserve.rag.prompt import KEYWORDS_PROMPT, TRANSLATE_PROMPT

logger = logging.getLogger(__name__)

MAX_KEYWORDS = 8


def keywords(chat: ChatModel, question: str) -> list[str]:
    """The keywords the model extracts from the question (none if it fails)."""
    messages = [
        {"role": "system", "content": KEYWORDS_PROMPT.format(count=MAX_KEYWORDS)},
        {"role": "user", "content": question},
    ]
    try:
        reply = chat.complete(messages, max_tokens=128)
    except ChatError as error:
        logger.warning("keyword extraction failed, searching the question alone: %s", error)
        return []
    found = [k.strip(" \t\"'.-*") for k in re.split(r"[,，;\n]", reply)]
    return [k for k in found if k][:MAX_KEYWORDS]


def with_keywords(chat: ChatModel, question: str) -> str:
    """The question followed by the keywords the model extracts from it."""
    return " ".join([question, *keywords(chat, question)])


def translations(chat: ChatModel, question: str, languages: Sequence[str]) -> list[str]:
    """The lines of the model's translation of the question into ``languages`` (one per
    language when it follows the prompt); none if it fails or says nothing."""
    wanted = [language.strip() for language in languages if language.strip()]
    if not wanted:
        return []
    messages = [
        {"role": "system", "content": TRANSLATE_PROMPT.format(languages=", ".join(wanted))},
        {"role": "user", "content": question},
    ]
    try:
        reply = chat.complete(messages, max_tokens=1024)
    except ChatError as error:
        logger.warning("translating the question failed, searching it as asked: %s", error)
        return []
    return [line.strip() for line in reply.splitlines() if line.strip()]


def translated(chat: ChatModel, question: str, languages: Sequence[str]) -> str:
    """The question's translations into ``languages``, one per line (RAGFlow replaces the
    question by them); the question itself if the model fails or says nothing."""
    lines = translations(chat, question, languages)
    return "\n".join(lines) if lines else question
