"""Chunk methods and ``parser_config``: per-method defaults, validation and merge rules.

Pure functions mirroring RAGFlow (spec §3.3): the defaults of ``get_parser_config``, and how a
config is built or changed on dataset create/update, document upload and document update (the
request model is ``schemas.parser_config.ParserConfig``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, get_args

from ragserve.domain import ChunkMethod
from ragserve.schemas.documents import DOCUMENT_CHUNK_METHODS as DOCUMENT_CHUNK_METHODS
from ragserve.schemas.parser_config import (
    DEFAULT_ENTITY_TYPES,
    DEFAULT_RAPTOR_PROMPT,
    DatasetChunkMethod,
    ParserConfig,
)
from ragserve.services.filetypes import FileType

DATASET_CHUNK_METHODS: tuple[str, ...] = get_args(DatasetChunkMethod)
# DOCUMENT_CHUNK_METHODS, the methods accepted on document update, are the update model's.

_BASE_DEFAULTS: dict[str, Any] = {"table_context_size": 0, "image_context_size": 0}
_NO_RAPTOR_NO_GRAPHRAG: dict[str, Any] = {
    "raptor": {"use_raptor": False},
    "graphrag": {"use_graphrag": False},
}
_METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    ChunkMethod.NAIVE: {
        "layout_recognize": "DeepDOC",
        "chunk_token_num": 512,
        "delimiter": "\n",
        "auto_keywords": 0,
        "auto_questions": 0,
        "html4excel": False,
        "topn_tags": 3,
        "raptor": {
            "use_raptor": True,
            "prompt": DEFAULT_RAPTOR_PROMPT,
            "max_token": 256,
            "threshold": 0.1,
            "max_cluster": 64,
            "random_seed": 0,
        },
        "graphrag": {
            "use_graphrag": True,
            "entity_types": list(DEFAULT_ENTITY_TYPES),
            "method": "light",
        },
    },
    ChunkMethod.QA: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.MANUAL: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.PAPER: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.BOOK: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.LAWS: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.PRESENTATION: _NO_RAPTOR_NO_GRAPHRAG,
    ChunkMethod.KNOWLEDGE_GRAPH: {
        "chunk_token_num": 8192,
        "delimiter": "\\n",
        "entity_types": ["organization", "person", "location", "event", "time"],
        **_NO_RAPTOR_NO_GRAPHRAG,
    },
}


def default_parser_config(chunk_method: str) -> dict[str, Any]:
    """A fresh copy of the default config for ``chunk_method``.

    Methods without their own defaults (tag, resume, table, one, email, picture, and audio,
    which RAGFlow does not map at all) get only the base keys.
    """
    return deep_merge(_BASE_DEFAULTS, _METHOD_DEFAULTS.get(chunk_method, {}))


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``patch`` laid over it, merging nested mappings key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parser_config_for_new_dataset(
    chunk_method: str, provided: ParserConfig | None, llm_id: str
) -> dict[str, Any]:
    """The config stored by dataset create, including the tenant's chat model as ``llm_id``.

    A given config is dumped with all model defaults filled in and merged over the method's
    defaults, so the model defaults win (e.g. ``raptor.use_raptor`` becomes false for naive).
    """
    config = default_parser_config(chunk_method)
    if provided is not None:
        config = deep_merge(config, provided.model_dump())
    config["llm_id"] = llm_id
    return config


def parser_config_for_dataset_update(
    current: Mapping[str, Any],
    current_method: str,
    new_method: str | None,
    patch: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The config stored by dataset update.

    ``patch`` holds only the keys the client sent (``model_dump(exclude_unset=True)``). A
    non-empty patch is merged into ``current``; otherwise a method change replaces the config
    with the new method's defaults (without ``llm_id``); otherwise ``current`` is kept.
    """
    if patch:
        return deep_merge(current, patch)
    if new_method is not None and new_method != current_method:
        return default_parser_config(new_method)
    return copy.deepcopy(dict(current))


def parser_config_for_document_update(
    current: Mapping[str, Any], patch: Mapping[str, Any]
) -> dict[str, Any]:
    """The document's config after RAGFlow's update: an empty ``patch`` changes nothing;
    otherwise ``patch`` is deep-merged in, and when it has no truthy ``raptor`` the stored
    ``raptor`` is removed (spec Appendix A, quirk 10; the same on a chunk-method change, where
    the method's defaults are the patch)."""
    if not patch:
        return copy.deepcopy(dict(current))
    merged = deep_merge(current, patch)
    if not patch.get("raptor") and merged.get("raptor"):
        del merged["raptor"]
    return merged


_PRESENTATION_SUFFIXES = frozenset({"ppt", "pptx", "pages"})
_EMAIL_SUFFIXES = frozenset({"msg", "eml"})


def chunk_method_for_upload(dataset_method: str, file_type: str, suffix: str) -> str:
    """The chunk method of a newly uploaded document.

    Images and videos are parsed as ``picture``, audio as ``audio``, slides as ``presentation``
    and mail as ``email``; everything else uses the dataset's method.
    """
    suffix = suffix.lower().lstrip(".")
    if file_type == FileType.VISUAL:
        return ChunkMethod.PICTURE.value
    if file_type == FileType.AURAL:
        return ChunkMethod.AUDIO.value
    if suffix in _PRESENTATION_SUFFIXES:
        return ChunkMethod.PRESENTATION.value
    if suffix in _EMAIL_SUFFIXES:
        return ChunkMethod.EMAIL.value
    return dataset_method
