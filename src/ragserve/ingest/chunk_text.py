"""RAGFlow's rules for what a chunk contributes besides its content, shared by parsing and by
chunks added or edited through the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragserve.models.embedding import EmbeddingModel, embed_chunks
from ragserve.tokenizer import tokenize_to_text

DEFAULT_TITLE_WEIGHT = 0.1


def embedding_text(content: str, questions: Sequence[str]) -> str:
    """A chunk is embedded by its questions when it has any, else by its content."""
    return "\n".join(questions) if questions else content


def keyword_tokens(important_keywords: Sequence[str], questions: Sequence[str]) -> str:
    """The boosted full-text field: the chunk's keywords and questions, tokenized."""
    return tokenize_to_text(" ".join([*important_keywords, *questions]))


def embed_for_document(
    model: EmbeddingModel,
    document_name: str,
    parser_config: Mapping[str, Any],
    texts: Sequence[str],
) -> np.ndarray:
    """Vectors of ``texts`` (see ``embedding_text``) mixed with the document name's, weighted by
    ``parser_config.filename_embd_weight`` (default 0.1)."""
    weight = float(parser_config.get("filename_embd_weight") or DEFAULT_TITLE_WEIGHT)
    return embed_chunks(model, [document_name] * len(texts), list(texts), weight)
