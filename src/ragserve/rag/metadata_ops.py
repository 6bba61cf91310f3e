"""Document-metadata operations behind ``GET …/metadata/summary`` and ``POST …/metadata/update``.

Values compare by their text: numbers through ``str`` (``5`` is ``"5"``, ``2.5`` is ``"2.5"``)
and booleans as ``"true"``/``"false"``, as in ``metadata_filter``. The differences from
RAGFlow are listed in docs/compatibility.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from ragserve.rag.metadata_filter import filter_documents
from ragserve.schemas.metadata_update import MetadataDelete, MetadataUpdate, MetadataUpdateRequest

_SCALARS = (str, int, float, bool)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?)?")
_TYPE_ORDER = ("string", "number", "time", "list")


def summarize_metadata(
    all_meta_fields: Iterable[Mapping[str, object]],
) -> dict[str, dict[str, object]]:
    """Per key, its most common type and its values with counts, for the summary endpoint.

    List values count each element. ``None`` and ``""`` are skipped, but ``0`` and ``False``
    are counted (deliberately: RAGFlow skips every falsy value, while our filter treats ``0``
    and ``false`` as real values). Values are sorted by count descending, then by text.
    ``type`` is the most common of ``string`` (including booleans), ``number``, ``time`` (ISO
    date or datetime text) and ``list`` among the documents holding the key; ties go to the
    first in that order. Keys appear in first-seen order; a key with no counted value is left
    out.
    """
    counts: dict[str, Counter[str]] = {}
    types: dict[str, Counter[str]] = {}
    for meta in all_meta_fields:
        for key, value in meta.items():
            kind = _value_type(value)
            if kind is not None:
                types.setdefault(key, Counter())[kind] += 1
            for item in value if isinstance(value, list) else [value]:
                text = _text(item)
                if text:
                    counts.setdefault(key, Counter())[text] += 1
    return {
        key: {
            "type": _main_type(types[key]),
            "values": [[text, n] for text, n in sorted(values.items(), key=_by_count)],
        }
        for key, values in counts.items()
    }


def apply_metadata_changes(
    meta: Mapping[str, object],
    updates: Sequence[MetadataUpdate],
    deletes: Sequence[MetadataDelete],
) -> dict[str, object] | None:
    """The new ``meta_fields`` after the updates and then the deletes; None if unchanged.

    An update with ``match`` never adds a missing key (RAGFlow adds it). A list value replacing
    matched list elements is spliced in. Lists are deduplicated by text, keeping the first.
    """
    result = dict(meta)
    for update in updates:
        _apply_update(result, update)
    for delete in deletes:
        _apply_delete(result, delete)
    return None if _canonical(result) == _canonical(dict(meta)) else result


def _apply_update(meta: dict[str, object], update: MetadataUpdate) -> None:
    new = list(update.value) if isinstance(update.value, tuple) else [update.value]
    value = _dedupe(new) if isinstance(update.value, tuple) else update.value
    current, match = meta.get(update.key), _text(update.match)
    if match is None or _text(current) == match:
        meta[update.key] = value
    elif isinstance(current, list) and any(_text(item) == match for item in current):
        spliced = [new if _text(item) == match else [item] for item in current]
        meta[update.key] = _dedupe(item for part in spliced for item in part)


def _apply_delete(meta: dict[str, object], delete: MetadataDelete) -> None:
    if delete.key not in meta:
        return
    current, target = meta[delete.key], _text(delete.value)
    if target is None or _text(current) == target:
        del meta[delete.key]
    elif isinstance(current, list) and any(_text(item) == target for item in current):
        kept = [item for item in current if _text(item) != target]
        if kept:
            meta[delete.key] = kept
        else:
            del meta[delete.key]


def select_documents(
    request: MetadataUpdateRequest, documents: Sequence[tuple[str, Mapping[str, object]]]
) -> list[str]:
    """The ids, in input order, of the dataset's documents the request targets.

    These are the requested ids (all documents when None) that match the condition, if any.
    """
    wanted = None if request.document_ids is None else set(request.document_ids)
    chosen = [(doc_id, meta) for doc_id, meta in documents if wanted is None or doc_id in wanted]
    if request.condition is None:
        return [doc_id for doc_id, _ in chosen]
    return filter_documents(request.condition, chosen)


def unknown_document_ids(
    request: MetadataUpdateRequest, dataset_document_ids: Collection[str]
) -> list[str]:
    """The requested ids that are not in the dataset, in request order, without repeats."""
    requested = request.document_ids or ()
    return list(dict.fromkeys(i for i in requested if i not in dataset_document_ids))


def _main_type(types: Counter[str]) -> str:
    return max(_TYPE_ORDER, key=lambda kind: (types[kind], -_TYPE_ORDER.index(kind)))


def _by_count(entry: tuple[str, int]) -> tuple[int, str]:
    return -entry[1], entry[0]


def _value_type(value: object) -> str | None:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "time" if _is_time(value) else "string"
    return None


def _is_time(text: str) -> bool:
    if _TIME.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _text(value: object) -> str | None:
    """The text a scalar compares by; None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, _SCALARS) else None


def _dedupe(items: Iterable[object]) -> list[object]:
    """The items without repeats by text (other values by content), keeping the first."""
    kept: dict[tuple[str | None, str | None], object] = {}
    for item in items:
        text = _text(item)
        kept.setdefault((text, None) if text is not None else (None, _canonical(item)), item)
    return list(kept.values())


def _canonical(value: object) -> str:
    """A type-exact rendering, so that ``1``, ``1.0`` and ``true`` differ."""
    return json.dumps(value, sort_keys=True, default=repr)
