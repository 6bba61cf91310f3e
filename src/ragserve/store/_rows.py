"""Conversion between ``ChunkRecord`` and rows of the ``chunk`` table."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy
import xxhash

from ragserve.store.base import ChunkRecord, ChunkStoreError, VectorsChanged

COLUMNS = (
    "id, tenant_id, dataset_id, document_id, document_name, content, content_tokens, "
    "title_tokens, keyword_tokens, important_keywords, questions, positions, image_id, "
    "available, token_count, chunk_order, create_time, fields, vector"
)
"""The ``chunk`` columns that make up a record, in ``to_row`` order."""

_PLACEHOLDERS = ", ".join("?" for _ in COLUMNS.split(","))
INSERT = f"INSERT INTO chunk ({COLUMNS}) VALUES ({_PLACEHOLDERS})"  # noqa: S608

UPDATE = (
    "UPDATE chunk SET document_name = ?, content = ?, content_tokens = ?, title_tokens = ?, "
    "keyword_tokens = ?, important_keywords = ?, questions = ?, positions = ?, image_id = ?, "
    "available = ?, token_count = ?, chunk_order = ?, create_time = ?, fields = ?, vector = ? "
    "WHERE row_id = ?"
)

Row = tuple[Any, ...]


def to_row(chunk: ChunkRecord) -> Row:
    """The values of ``INSERT`` for the chunk; raises ChunkStoreError on a malformed record."""
    if not chunk.id:
        raise ChunkStoreError("a chunk needs a non-empty id")
    try:
        lists = (
            _dumps(chunk.important_keywords),
            _dumps(chunk.questions),
            _dumps(chunk.positions),
        )
        fields = "{}" if not chunk.fields else json.dumps(chunk.fields, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ChunkStoreError(f"chunk {chunk.id} holds data JSON cannot encode: {error}") from None
    return (
        chunk.id,
        chunk.tenant_id,
        chunk.dataset_id,
        chunk.document_id,
        chunk.document_name,
        chunk.content,
        chunk.content_tokens,
        chunk.title_tokens,
        chunk.keyword_tokens,
        *lists,
        chunk.image_id,
        int(bool(chunk.available)),
        int(chunk.token_count),
        int(chunk.order),
        float(chunk.create_time),
        fields,
        vector_blob(chunk),
    )


def to_update_params(chunk: ChunkRecord, row_id: int) -> Row:
    """The values of ``UPDATE`` for the chunk stored at ``row_id``."""
    row = to_row(chunk)
    return (*row[4:], row_id)


def from_row(row: Sequence[Any]) -> ChunkRecord:
    """The record of a row selected as ``COLUMNS``."""
    blob = row[18]
    return ChunkRecord(
        id=row[0],
        tenant_id=row[1],
        dataset_id=row[2],
        document_id=row[3],
        document_name=row[4],
        content=row[5],
        content_tokens=row[6],
        title_tokens=row[7],
        keyword_tokens=row[8],
        important_keywords=_loads_list(row[9]),
        questions=_loads_list(row[10]),
        positions=_loads_list(row[11]),
        image_id=row[12],
        available=bool(row[13]),
        token_count=row[14],
        order=row[15],
        create_time=row[16],
        fields={} if row[17] == "{}" else json.loads(row[17]),
        vector=None if blob is None else numpy.frombuffer(blob, dtype=numpy.float32).copy(),
    )


def vector_blob(chunk: ChunkRecord) -> bytes | None:
    """The chunk's vector as float32 bytes, or None; raises ChunkStoreError if unusable."""
    if chunk.vector is None:
        return None
    return vector_bytes(chunk.id, chunk.vector)


def vector_bytes(chunk_id: str, given: numpy.ndarray) -> bytes:
    """A chunk's vector as float32 bytes; raises ChunkStoreError if unusable."""
    vector = numpy.asarray(given, dtype=numpy.float32)
    if vector.ndim != 1 or vector.size == 0:
        raise ChunkStoreError(f"chunk {chunk_id}: the vector must be one non-empty dimension")
    if not numpy.isfinite(vector).all():
        raise ChunkStoreError(f"chunk {chunk_id}: the vector holds NaN or infinity")
    return vector.tobytes()


def new_vectors(
    vectors: Mapping[str, numpy.ndarray], expected: Mapping[str, str]
) -> dict[str, bytes]:
    """``replace_vectors``' vectors as float32 bytes, checked: the ids of ``expected``, one
    dimension."""
    if set(vectors) != set(expected):
        raise ChunkStoreError(
            "replace_vectors: the new vectors and the expected ones differ in ids"
        )
    blobs = {key: vector_bytes(key, vector) for key, vector in vectors.items()}
    if len({len(blob) for blob in blobs.values()}) > 1:
        raise ChunkStoreError("replace_vectors: the new vectors differ in size")
    return blobs


def check_unchanged(
    dataset_id: str, stored: Mapping[str, bytes], expected: Mapping[str, str]
) -> None:
    """Raise VectorsChanged unless the dataset's stored vectors are those the caller read."""
    current = {key: xxhash.xxh64_hexdigest(blob) for key, blob in stored.items()}
    if current != dict(expected):
        added = len(set(current) - set(expected))
        gone = len(set(expected) - set(current))
        changed = sum(
            1 for key in current.keys() & expected.keys() if current[key] != expected[key]
        )
        raise VectorsChanged(
            f"the vectors of dataset {dataset_id} changed since they were read: "
            f"{added} added, {gone} deleted, {changed} embedded again"
        )


def query_vector(vector: numpy.ndarray) -> numpy.ndarray:
    """``vector`` as a contiguous float32 unit vector; raises ChunkStoreError if unusable."""
    query = numpy.ascontiguousarray(vector, dtype=numpy.float32)
    if query.ndim != 1 or query.size == 0:
        raise ChunkStoreError("the query vector must be one non-empty dimension")
    norm = float(numpy.linalg.norm(query))
    if not math.isfinite(norm) or norm == 0.0:
        raise ChunkStoreError("the query vector must be finite and non-zero")
    return query / numpy.float32(norm)


def _dumps(items: list[Any]) -> str:
    return "[]" if not items else json.dumps(items, ensure_ascii=False)


def _loads_list(text: str) -> list[Any]:
    if text == "[]":
        return []
    loaded: list[Any] = json.loads(text)
    return loaded
