"""The PostgreSQL schema of ``PgChunkStore``, its connections and the pgvector wire format.

``chunk`` holds the records (the columns of ``_rows.COLUMNS``) with ``vector`` a pgvector
``vector`` of any dimension, ``dim`` its dimension and ``length`` its BM25 length. One HNSW
index per dimension (cosine, on ``vector::vector(d)``, partial on ``dim = d``) is created when
the first vector of that dimension arrives: one column holds datasets of several dimensions,
and each index is a ``vector(d)`` index as pgvector requires (``halfvec(d)`` past 2000
dimensions, none past 4000: those datasets are scanned exactly).

Full text keeps BM25's statistics per partition, a (tenant, dataset) pair (``_pg_text``):
``chunk_partition`` (rows and their summed length), ``chunk_term_stat`` (rows holding each
term) and ``chunk_posting`` (term, row, weighted term frequency). ``chunk_dataset`` keeps each
dataset's vector dimension and how many vectors it holds.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy
import psycopg
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo

from ragserve.store.base import ChunkStoreError

SCHEMA_VERSION = 1
HNSW_VECTOR_MAX_DIM = 2000
HNSW_HALFVEC_MAX_DIM = 4000
"""pgvector indexes ``vector`` up to 2000 dimensions and ``halfvec`` up to 4000."""
CONNECT_TIMEOUT_SECONDS = 10
SCHEMA_LOCK = 0x72616773
"""Advisory lock key taken while the schema or an HNSW index is created."""

_TABLES = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE chunk (
    row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    dataset_id text NOT NULL,
    document_id text NOT NULL,
    document_name text NOT NULL,
    content text NOT NULL,
    content_tokens text NOT NULL,
    title_tokens text NOT NULL,
    keyword_tokens text NOT NULL,
    important_keywords text NOT NULL,
    questions text NOT NULL,
    positions text NOT NULL,
    image_id text NOT NULL,
    available boolean NOT NULL,
    token_count integer NOT NULL,
    chunk_order integer NOT NULL,
    create_time double precision NOT NULL,
    fields text NOT NULL,
    vector vector,
    dim integer,
    part_id integer NOT NULL,
    length integer NOT NULL
);
CREATE INDEX chunk_by_document ON chunk (document_id, chunk_order, row_id);
CREATE INDEX chunk_by_dataset ON chunk (dataset_id, tenant_id, available);
CREATE TABLE chunk_dataset (
    dataset_id text PRIMARY KEY,
    dim integer,
    vectors bigint NOT NULL DEFAULT 0
);
CREATE TABLE chunk_partition (
    part_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL,
    dataset_id text NOT NULL,
    rows bigint NOT NULL DEFAULT 0,
    total_length bigint NOT NULL DEFAULT 0,
    UNIQUE (dataset_id, tenant_id)
);
CREATE TABLE chunk_term_stat (
    part_id integer NOT NULL,
    term text NOT NULL,
    rows bigint NOT NULL,
    PRIMARY KEY (part_id, term)
);
CREATE TABLE chunk_posting (
    part_id integer NOT NULL,
    term text NOT NULL,
    row_id bigint NOT NULL,
    tf integer NOT NULL,
    length integer NOT NULL,
    available boolean NOT NULL,
    PRIMARY KEY (part_id, term, row_id) INCLUDE (tf, length, available)
);
CREATE INDEX chunk_posting_row ON chunk_posting (row_id, term);
CREATE TABLE chunk_store_schema (version integer NOT NULL);
"""

_UPGRADES = {0: _TABLES}


class Vector:
    """A float32 vector sent to PostgreSQL as a pgvector value (binary format)."""

    __slots__ = ("values",)

    def __init__(self, values: numpy.ndarray) -> None:
        self.values = values


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection (callers open transactions) that reads and writes vectors."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise ChunkStoreError(f"cannot connect to the chunk store database: {error}") from error
    try:
        info = TypeInfo.fetch(conn, "vector")
        if info is not None:
            _register(conn, info.oid)
    except psycopg.Error as error:
        conn.close()
        raise ChunkStoreError(f"cannot read the chunk store database: {error}") from error
    return conn


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the tables on a new database, upgrade an older one, refuse a newer one; then make
    sure the connection knows the ``vector`` type."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        exists = conn.execute("SELECT to_regclass('chunk_store_schema')").fetchone()
        version = 0
        if exists is not None and exists[0] is not None:
            found = conn.execute("SELECT version FROM chunk_store_schema").fetchone()
            version = 0 if found is None else int(found[0])
        if version > SCHEMA_VERSION:
            raise ChunkStoreError(
                f"chunk database has schema version {version}, this ragserve knows {SCHEMA_VERSION}"
            )
        for step in range(version, SCHEMA_VERSION):
            conn.execute(_UPGRADES[step])
        if version < SCHEMA_VERSION:
            conn.execute("DELETE FROM chunk_store_schema")
            conn.execute("INSERT INTO chunk_store_schema VALUES (%s)", (SCHEMA_VERSION,))
    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise ChunkStoreError("the pgvector extension is missing from the chunk store database")
    _register(conn, info.oid)


def vector_expression(dim: int) -> str:
    """The indexed expression of ``dim``-dimensional vectors (a fixed, safe SQL fragment)."""
    kind = "vector" if dim <= HNSW_VECTOR_MAX_DIM else "halfvec"
    return f"(vector::{kind}({int(dim)}))"


def query_expression(dim: int) -> str:
    """The query vector parameter, cast like ``vector_expression(dim)``."""
    kind = "vector" if dim <= HNSW_VECTOR_MAX_DIM else "halfvec"
    return f"%(query)b::{kind}({int(dim)})"


def ensure_vector_index(conn: psycopg.Connection[Any], dim: int) -> None:
    """Create the HNSW index of ``dim``-dimensional vectors unless it exists (or none can)."""
    if dim > HNSW_HALFVEC_MAX_DIM:
        return
    ops = "vector_cosine_ops" if dim <= HNSW_VECTOR_MAX_DIM else "halfvec_cosine_ops"
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS chunk_hnsw_{int(dim)} ON chunk "
            f"USING hnsw ({vector_expression(dim)} {ops}) WHERE dim = {int(dim)}"
        )


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer:
        values = numpy.asarray(obj.values, dtype=">f4")
        return struct.pack(">HH", values.size, 0) + values.tobytes()


class _VectorLoader(Loader):
    """Loads a pgvector value as the little-endian float32 bytes ``_rows.from_row`` reads."""

    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        return numpy.frombuffer(bytes(data), dtype=">f4", offset=4).astype("<f4").tobytes()


def _register(conn: psycopg.Connection[Any], oid: int) -> None:
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": oid})
    conn.adapters.register_dumper(Vector, dumper)
    conn.adapters.register_loader(oid, _VectorLoader)
