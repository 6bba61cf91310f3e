"""The chunks of a finished page-range task, kept on its task row (``ingest_task.result``) until
the last task of the parse puts every range's chunks in place with one ``replace_document``.

A part is a 4-byte length, zlib-compressed JSON of the chunks, then their float32 vectors.
Chunks have no id or order yet: both depend on the ranges before them.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

_LENGTH = struct.Struct("<I")


@dataclass
class StagedChunk:
    """A chunk with its tokens, ready to be stored once it has an id and an order."""

    content: str
    content_tokens: str
    keyword_tokens: str
    token_count: int
    important_keywords: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Part:
    """The chunks of one task in order, and one vector row per chunk (none when not embedded)."""

    chunks: list[StagedChunk]
    vectors: np.ndarray

    def vector(self, index: int) -> np.ndarray | None:
        return self.vectors[index] if len(self.vectors) > index else None


def encode(part: Part) -> bytes:
    vectors = np.ascontiguousarray(part.vectors, dtype="<f4")
    header = {"chunks": [asdict(chunk) for chunk in part.chunks], "shape": list(vectors.shape)}
    body = zlib.compress(json.dumps(header, ensure_ascii=False).encode())
    return _LENGTH.pack(len(body)) + body + vectors.tobytes()


def decode(data: bytes) -> Part:
    (length,) = _LENGTH.unpack_from(data)
    start = _LENGTH.size
    header = json.loads(zlib.decompress(data[start : start + length]))
    vectors = np.frombuffer(data[start + length :], dtype="<f4").astype(np.float32)
    return Part(
        chunks=[StagedChunk(**chunk) for chunk in header["chunks"]],
        vectors=vectors.reshape(header["shape"]),
    )
