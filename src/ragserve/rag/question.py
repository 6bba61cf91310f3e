"""Rewriting a question with a chat model before search: keywords, and translations.

Both are best effort: a model failure leaves the question as it was, since an answer from the
original question beats no answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragserve.models.chat import ChatError, ChatModel

logger = logging.getLogger(__name__)

MAX_KEYWORDS = 8

KEYWORDS_PROMPT = (
    "Extract at most {count} search keywords or short key phrases from the user's question, "
    "in the question's language, most important first. Answer with the keywords only, "
    "separated by commas, without numbering or explanation."
)

TRANSLATE_PROMPT = (
    "Translate the user's text into each of these languages: {languages}. Answer with one "
    "translation per line, in that order, with no labels, quotes or explanation."
)


def with_keywords(chat: ChatModel, question: str) -> str:
    """The question followed by the keywords the model extracts from it."""
    messages = [
        {"role": "system", "content": KEYWORDS_PROMPT.format(count=MAX_KEYWORDS)},
        {"role": "user", "content": question},
    ]
    try:
        reply = chat.complete(messages, max_tokens=128)
    except ChatError as error:
        logger.warning("keyword extraction failed, searching the question alone: %s", error)
        return question
    keywords = [k.strip(" \t\"'.-*") for k in re.split(r"[,，;\n]", reply)]
    keywords = [k for k in keywords if k][:MAX_KEYWORDS]
    return " ".join([question, *keywords]) if keywords else question


def translated(chat: ChatModel, question: str, languages: Sequence[str]) -> str:
    """The question's translations into ``languages``, one per line (RAGFlow replaces the
    question by them); the question itself if the model fails or says nothing."""
    wanted = [language.strip() for language in languages if language.strip()]
    if not wanted:
        return question
    messages = [
        {"role": "system", "content": TRANSLATE_PROMPT.format(languages=", ".join(wanted))},
        {"role": "user", "content": question},
    ]
    try:
        reply = chat.complete(messages, max_tokens=1024)
    except ChatError as error:
        logger.warning("translating the question failed, searching it as asked: %s", error)
        return question
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    return "\n".join(lines) if lines else question
