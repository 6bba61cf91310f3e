"""The body of ``POST /datasets/{id}/metadata/update``, parsed and checked into a
``MetadataUpdateRequest`` (``rag.metadata_ops`` applies it to documents' ``meta_fields``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ragserve.errors import DataError
from ragserve.schemas.metadata_condition import (
    SCALAR_TYPES,
    MetadataCondition,
    Scalar,
    parse_metadata_condition,
)


@dataclass(frozen=True)
class MetadataUpdate:
    """Set ``key`` to ``value``; with ``match``, only replace the value or elements equal to it."""

    key: str
    value: Scalar | tuple[Scalar, ...]
    match: Scalar | None = None


@dataclass(frozen=True)
class MetadataDelete:
    """Drop ``key``; with ``value``, only drop the value or the list elements equal to it."""

    key: str
    value: Scalar | None = None


@dataclass(frozen=True)
class MetadataUpdateRequest:
    """A validated batch update. ``document_ids`` None means every document of the dataset."""

    document_ids: tuple[str, ...] | None
    condition: MetadataCondition | None
    updates: tuple[MetadataUpdate, ...]
    deletes: tuple[MetadataDelete, ...]


def parse_metadata_update(body: Mapping[str, object]) -> MetadataUpdateRequest:
    """Validate the body of ``POST /datasets/{id}/metadata/update``.

    A missing or null ``selector``, ``updates``, ``deletes``, ``metadata_condition`` or
    ``document_ids`` means "none given". An empty ``document_ids`` list also selects every
    document (RAGFlow fails with code 100 there). A null ``match`` or delete ``value`` counts
    as absent; a null update ``value`` counts as missing. Raises ``DataError`` (102); a
    malformed condition raises ``MetadataConditionError`` (101).
    """
    selector = body.get("selector")
    if selector is None:
        selector = {}
    if not isinstance(selector, dict):
        raise DataError("selector must be an object.")
    raw_updates, raw_deletes = body.get("updates"), body.get("deletes")
    raw_updates = [] if raw_updates is None else raw_updates
    raw_deletes = [] if raw_deletes is None else raw_deletes
    if not isinstance(raw_updates, list) or not isinstance(raw_deletes, list):
        raise DataError("updates and deletes must be lists.")
    raw_condition = selector.get("metadata_condition")
    if raw_condition is not None and not isinstance(raw_condition, dict):
        raise DataError("metadata_condition must be an object.")
    raw_ids = selector.get("document_ids")
    if raw_ids is not None and not isinstance(raw_ids, list):
        raise DataError("document_ids must be a list.")
    if raw_ids is not None and not all(isinstance(doc_id, str) for doc_id in raw_ids):
        raise DataError("document_ids must be a list of strings.")
    updates = tuple(_parse_update(item) for item in raw_updates)
    deletes = tuple(_parse_delete(item) for item in raw_deletes)
    return MetadataUpdateRequest(
        document_ids=tuple(raw_ids) if raw_ids else None,
        condition=parse_metadata_condition(raw_condition),
        updates=updates,
        deletes=deletes,
    )


def _parse_update(item: object) -> MetadataUpdate:
    key = _key(item)
    if key is None or not isinstance(item, dict) or item.get("value") is None:
        raise DataError("Each update requires key and value.")
    value = item["value"]
    if isinstance(value, list) and all(isinstance(v, SCALAR_TYPES) for v in value):
        value = tuple(value)
    elif not isinstance(value, SCALAR_TYPES):
        raise DataError("Each update value must be a string, number, boolean or a list of them.")
    match = item.get("match")
    if match is not None and not isinstance(match, SCALAR_TYPES):
        raise DataError("Each update match must be a string, number or boolean.")
    return MetadataUpdate(key, value, match)


def _parse_delete(item: object) -> MetadataDelete:
    key = _key(item)
    if key is None or not isinstance(item, dict):
        raise DataError("Each delete requires key.")
    value = item.get("value")
    if value is not None and not isinstance(value, SCALAR_TYPES):
        raise DataError("Each delete value must be a string, number or boolean.")
    return MetadataDelete(key, value)


def _key(item: object) -> str | None:
    key = item.get("key") if isinstance(item, dict) else None
    return key if isinstance(key, str) and key else None
