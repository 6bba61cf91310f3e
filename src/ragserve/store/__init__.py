"""Chunk storage and search (full text and vectors) behind one interface.

``SqliteChunkStore`` is the embedded backend (SQLite FTS5 + usearch HNSW); other backends
implement ``ChunkStore`` and pass the same contract suite.
"""

from ragserve.store.base import (
    Candidate,
    ChunkCounts,
    ChunkFilter,
    ChunkNotFound,
    ChunkRecord,
    ChunkStore,
    ChunkStoreError,
    ScoredChunk,
    VectorsChanged,
    chunk_id,
    vector_fingerprint,
)
from ragserve.store.sqlite import SqliteChunkStore

__all__ = [
    "Candidate",
    "ChunkCounts",
    "ChunkFilter",
    "ChunkNotFound",
    "ChunkRecord",
    "ChunkStore",
    "ChunkStoreError",
    "ScoredChunk",
    "SqliteChunkStore",
    "VectorsChanged",
    "chunk_id",
    "vector_fingerprint",
]
