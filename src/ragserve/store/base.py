"""The chunk store interface: the records it keeps, the filters it applies and its errors.

A chunk store holds the retrievable pieces of every parsed document: their text (for display),
their full-text tokens (made by the ingest tokenizer; a store never tokenizes), their embedding
vectors and the metadata that retrieval and the chunk API return. Every backend (the embedded
SQLite + usearch one, a distributed engine later) implements ``ChunkStore`` and passes the same
contract suite (``tests/contract/test_chunk_store.py``).

Errors (``ragserve.errors.InternalError`` subclasses: the message meant for clients says only
that the chunk store failed; ``str(error)`` is the detail, for the server log)::

    ChunkStoreError      the store failed, or was asked something it cannot do (HTTP 500)
    ├── ChunkNotFound    no chunk has the id (code 102)
    └── VectorsChanged   ``replace_vectors`` found the dataset's vectors changed meanwhile
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy
import xxhash

from ragserve.errors import InternalError, RetCode


class ChunkStoreError(InternalError):
    """The store failed or cannot be used, or a write broke a rule (duplicate id, bad vector).
    Raised with the detail; clients see only ``public_message``."""

    public_message = "The chunk store failed to complete the request."


class ChunkNotFound(ChunkStoreError):
    """No chunk has the id (one deleted meanwhile): RAGFlow's answer to a missing chunk."""

    code = RetCode.DATA_ERROR
    http_status = 200
    public_message = "No chunk found! Check the chunk status please!"


class VectorsChanged(ChunkStoreError):
    """``replace_vectors`` found chunks of the dataset added, deleted or re-embedded since the
    caller read them: nothing was written; read them again and retry."""


@dataclass(eq=False)
class ChunkRecord:
    """One chunk with everything stored about it.

    ``vector`` is float32 and L2-normalised; all chunks of a dataset share one dimension.
    Two records are equal when every field is, vectors compared element by element.
    """

    id: str
    """16 hex chars (see ``chunk_id``), unique across the store."""
    tenant_id: str
    dataset_id: str
    document_id: str
    document_name: str
    content: str
    """What users see."""
    content_tokens: str
    """Full-text tokens, space separated."""
    title_tokens: str = ""
    """Tokens of the document title."""
    keyword_tokens: str = ""
    """Tokens of ``important_keywords`` and ``questions``; weighted above content in search."""
    important_keywords: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)
    """RAGFlow's ``[page, x0, x1, top, bottom]`` boxes."""
    image_id: str = ""
    available: bool = True
    token_count: int = 0
    order: int = 0
    """Position of the chunk within its document; listings sort by it."""
    create_time: float = 0.0
    """Epoch seconds."""
    fields: dict[str, Any] = field(default_factory=dict)
    """Method-specific structured data (table row, Q&A pair, resume fields); JSON-serialisable."""
    vector: numpy.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChunkRecord):
            return NotImplemented
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if item.name == "vector":
                if (mine is None) != (theirs is None):
                    return False
                if mine is not None and not numpy.array_equal(mine, theirs):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ChunkFilter:
    """Which chunks a search may return: all conditions hold at once.

    ``document_ids=None`` means any document of the datasets; an empty sequence means none.
    """

    tenant_ids: Sequence[str]
    dataset_ids: Sequence[str]
    document_ids: Sequence[str] | None = None
    available_only: bool = True


@dataclass(frozen=True)
class ScoredChunk:
    """A search hit: BM25 score (positive, higher is better) or cosine similarity in [-1, 1]."""

    chunk: ChunkRecord
    score: float


@dataclass(frozen=True)
class Candidate:
    """A chunk found by text or by vector search, with both of its similarities to the query."""

    chunk_id: str
    document_id: str
    term_similarity: float
    """Weighted BM25 over its upper bound for the query, ``(k1 + 1)`` times the summed IDF of the
    query terms: in [0, 1), 0 when no term matches. Ranks exactly as BM25 does."""
    vector_similarity: float
    """Cosine similarity to the query vector in [-1, 1]; 0 when there is no query vector or the
    chunk has no vector."""
    document_name: str = ""


@dataclass(frozen=True)
class ChunkCounts:
    chunks: int
    tokens: int
    """Sum of ``token_count``."""


QueryVector = numpy.ndarray | Callable[[], numpy.ndarray]
"""A query's vector, or a function computing it (e.g. waiting for an embedding in flight)."""


class ChunkStore(Protocol):
    """Keeps chunks with their tokens and vectors, and searches them by text or by vector.

    Writes are atomic: a failed call changes nothing. Reads never see half a write.
    """

    def insert(self, chunks: Sequence[ChunkRecord]) -> None:
        """Add the chunks in one transaction; an id already stored or repeated in ``chunks``,
        or a vector whose dimension differs from its dataset's, raises ChunkStoreError."""
        ...

    def replace_document(self, document_id: str, chunks: Sequence[ChunkRecord]) -> None:
        """Delete the document's chunks and insert ``chunks`` (all of that document) atomically:
        readers see the old set or the new one, never a mix (re-parse)."""
        ...

    def search_text(
        self, query_tokens: Sequence[str], filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        """Chunks matching any of the tokens, best BM25 first. Keyword tokens weigh most,
        title tokens more than content tokens. No token matches -> empty list."""
        ...

    def search_vector(
        self, vector: numpy.ndarray, filters: ChunkFilter, top_k: int
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks with a vector nearest to ``vector`` by cosine similarity, best
        first. A vector of the wrong dimension raises ChunkStoreError."""
        ...

    def candidates(
        self,
        query_tokens: Sequence[str],
        vector: QueryVector | None,
        filters: ChunkFilter,
        top_k: int,
        *,
        text_k: int | None = None,
    ) -> list[Candidate]:
        """The union of the ``text_k`` (default ``top_k``) best chunks by text and the
        ``top_k`` nearest by vector (when ``vector`` is given), each with both similarities;
        order unspecified. This is what hybrid retrieval fuses, so it returns ids and scores,
        not records. A ``vector`` given as a function is called once, after the full-text
        search: the question's embedding can run meanwhile."""
        ...

    def get(self, chunk_ids: Sequence[str], tenant_ids: Sequence[str]) -> list[ChunkRecord]:
        """The chunks with these ids owned by one of the tenants, in the order asked;
        unknown ids are left out."""
        ...

    def list_document_chunks(
        self,
        document_id: str,
        *,
        terms: Sequence[str] | None = None,
        chunk_id: str | None = None,
        offset: int = 0,
        limit: int = 30,
    ) -> tuple[list[ChunkRecord], int]:
        """One page of the document's chunks by ``order``, and how many match in all.
        ``terms`` keeps chunks whose content, title or keyword tokens hold any of these
        full-text tokens (an empty sequence keeps none); ``chunk_id`` keeps only that chunk.
        Unavailable chunks are listed too."""
        ...

    def update(self, chunk: ChunkRecord) -> None:
        """Replace the stored chunk with the same id by ``chunk`` (content, tokens, keywords,
        questions, available, vector, ...). Unknown id -> ChunkNotFound; a different tenant,
        dataset or document -> ChunkStoreError."""
        ...

    def replace_vectors(
        self,
        dataset_id: str,
        vectors: Mapping[str, numpy.ndarray],
        expected: Mapping[str, str],
    ) -> None:
        """Give every chunk of the dataset that has a vector the new one in ``vectors`` (by
        chunk id), in one transaction: readers see all old vectors or all new ones. The new
        vectors may have another dimension (the dataset is embedded again by another model).
        ``expected`` holds the ``vector_fingerprint`` of each chunk's vector as the caller read
        it; unless the dataset's chunks with a vector are exactly these, with these vectors,
        nothing is written and VectorsChanged is raised. ``vectors`` must have the same ids as
        ``expected`` and one dimension (else ChunkStoreError)."""
        ...

    def set_available(self, document_id: str, available: bool) -> int:
        """Make every chunk of the document (un)available to search (the document was enabled
        or disabled); returns how many chunks it has."""
        ...

    def rename_document(self, document_id: str, name: str, title_tokens: str) -> int:
        """Give every chunk of the document its new name and the name's tokens (which search
        weighs as the title); returns how many chunks it has."""
        ...

    def delete(self, chunk_ids: Sequence[str]) -> int:
        """Delete the chunks with these ids; returns how many existed."""
        ...

    def delete_document(self, document_id: str) -> int:
        """Delete every chunk of the document; returns how many."""
        ...

    def delete_dataset(self, dataset_id: str) -> int:
        """Delete every chunk of the dataset and its vector index; returns how many chunks."""
        ...

    def counts(
        self, *, document_id: str | None = None, dataset_id: str | None = None
    ) -> ChunkCounts:
        """Chunks and tokens of the document and/or dataset, or of the whole store."""
        ...

    def check(self) -> None:
        """Raise ChunkStoreError if the store cannot be read or written."""
        ...

    def close(self) -> None:
        """Persist what needs persisting and release resources; safe to call twice."""
        ...


def chunk_id(document_id: str, content: str, order: int) -> str:
    """The 16-hex-char id of the chunk at ``order`` in the document with this content."""
    return xxhash.xxh64_hexdigest(f"{document_id}\x1f{order}\x1f{content}".encode())


def vector_fingerprint(vector: numpy.ndarray) -> str:
    """A hash of the vector's float32 values: ``replace_vectors`` compares it to tell whether a
    chunk was embedded again since it was read."""
    return xxhash.xxh64_hexdigest(numpy.ascontiguousarray(vector, dtype=numpy.float32).tobytes())
