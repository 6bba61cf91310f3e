"""The SQLite schema of the chunk store and how its connections are opened.

``chunk`` is the source of truth. ``chunk_fts`` is an FTS5 index over its token columns
(external content, kept in step by triggers). ``vector_log`` records, in the writing
transaction (also by triggers), every chunk row whose vector appeared, changed or vanished,
so each process can bring its in-memory HNSW indexes up to date; ``vector_index_state`` says
up to which log entry each saved ``<dataset>.usearch`` file is current. ``text_log`` does the
same for the in-memory tantivy index (``_text``): rows whose tokens, availability or existence
changed.

The FTS tokenizer splits on whitespace and control characters only: every letter, mark,
number, punctuation and symbol character is a token character, so the tokens made by the
ingest tokenizer (CJK words, stems, ``c++``, ``node.js``) are indexed and queried as given.
It folds case, which is harmless because the ingest tokens are lowercase already.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

from ragserve.store.base import ChunkStoreError

SCHEMA_VERSION = 4
BUSY_TIMEOUT_SECONDS = 30.0
TOKEN_CATEGORIES = ("L", "M", "N", "P", "S")
"""Unicode major categories of token characters, besides private use (Co); keep in step with
the ``categories`` option of the FTS tokenizer below."""

_TABLES = """
CREATE TABLE chunk (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    document_name TEXT NOT NULL,
    content TEXT NOT NULL,
    content_tokens TEXT NOT NULL,
    title_tokens TEXT NOT NULL,
    keyword_tokens TEXT NOT NULL,
    important_keywords TEXT NOT NULL,
    questions TEXT NOT NULL,
    positions TEXT NOT NULL,
    image_id TEXT NOT NULL,
    available INTEGER NOT NULL,
    token_count INTEGER NOT NULL,
    chunk_order INTEGER NOT NULL,
    create_time REAL NOT NULL,
    fields TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX chunk_document ON chunk (document_id, chunk_order);
CREATE INDEX chunk_dataset ON chunk (dataset_id, tenant_id, available);
CREATE INDEX chunk_dataset_vector ON chunk (dataset_id) WHERE vector IS NOT NULL;

CREATE VIRTUAL TABLE chunk_fts USING fts5 (
    content_tokens, title_tokens, keyword_tokens,
    content = 'chunk', content_rowid = 'row_id',
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Co'"
);

CREATE TABLE vector_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    chunk_row INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'update', 'delete', 'clear'))
);
CREATE INDEX vector_log_dataset ON vector_log (dataset_id, seq);

CREATE TABLE vector_index_state (
    dataset_id TEXT PRIMARY KEY,
    applied_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER chunk_inserted AFTER INSERT ON chunk BEGIN
    INSERT INTO chunk_fts (rowid, content_tokens, title_tokens, keyword_tokens)
    VALUES (new.row_id, new.content_tokens, new.title_tokens, new.keyword_tokens);
    INSERT INTO vector_log (dataset_id, chunk_row, op)
    SELECT new.dataset_id, new.row_id, 'add' WHERE new.vector IS NOT NULL;
END;

CREATE TRIGGER chunk_deleted AFTER DELETE ON chunk BEGIN
    INSERT INTO chunk_fts (chunk_fts, rowid, content_tokens, title_tokens, keyword_tokens)
    VALUES ('delete', old.row_id, old.content_tokens, old.title_tokens, old.keyword_tokens);
    INSERT INTO vector_log (dataset_id, chunk_row, op)
    SELECT old.dataset_id, old.row_id, 'delete' WHERE old.vector IS NOT NULL;
END;

CREATE TRIGGER chunk_tokens_updated
AFTER UPDATE OF content_tokens, title_tokens, keyword_tokens ON chunk BEGIN
    INSERT INTO chunk_fts (chunk_fts, rowid, content_tokens, title_tokens, keyword_tokens)
    VALUES ('delete', old.row_id, old.content_tokens, old.title_tokens, old.keyword_tokens);
    INSERT INTO chunk_fts (rowid, content_tokens, title_tokens, keyword_tokens)
    VALUES (new.row_id, new.content_tokens, new.title_tokens, new.keyword_tokens);
END;

CREATE TRIGGER chunk_vector_updated AFTER UPDATE OF vector ON chunk
WHEN old.vector IS NOT new.vector BEGIN
    INSERT INTO vector_log (dataset_id, chunk_row, op)
    VALUES (new.dataset_id, new.row_id, 'update');
END;
"""

_TEXT_LOG = """
CREATE TABLE text_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    chunk_row INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'update', 'delete', 'drop'))
);
CREATE INDEX text_log_dataset ON text_log (dataset_id);

CREATE TRIGGER chunk_text_inserted AFTER INSERT ON chunk BEGIN
    INSERT INTO text_log (dataset_id, chunk_row, op) VALUES (new.dataset_id, new.row_id, 'add');
END;

CREATE TRIGGER chunk_text_deleted AFTER DELETE ON chunk BEGIN
    INSERT INTO text_log (dataset_id, chunk_row, op)
    VALUES (old.dataset_id, old.row_id, 'delete');
END;

CREATE TRIGGER chunk_text_updated
AFTER UPDATE OF content_tokens, title_tokens, keyword_tokens, available ON chunk BEGIN
    INSERT INTO text_log (dataset_id, chunk_row, op)
    VALUES (new.dataset_id, new.row_id, 'update');
END;
"""

_CANDIDATE_INDEX = """
CREATE INDEX chunk_candidate ON chunk (row_id, id, document_id, dataset_id, tenant_id, available);
"""
"""Covers the look-ups of search hits by row id (``_search.candidates``, ``passing``): chunk
rows are a few kB each, so reading them costs a page per hit."""

_CANDIDATE_INDEX_WITH_NAME = """
DROP INDEX chunk_candidate;
CREATE INDEX chunk_candidate
ON chunk (row_id, id, document_id, document_name, dataset_id, tenant_id, available);
"""
"""Version 4: the candidates carry their document's name (for ``doc_aggs``)."""

_UPGRADES = {0: _TABLES, 1: _TEXT_LOG, 2: _CANDIDATE_INDEX, 3: _CANDIDATE_INDEX_WITH_NAME}
"""The DDL that brings a database from each version to the next."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (callers BEGIN explicitly) with the store's pragmas."""
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -32768")
    conn.execute("PRAGMA mmap_size = 268435456")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables on a new database, upgrade an older one, refuse a newer one."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version <= SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                for statement in _statements(_UPGRADES[step]):
                    conn.execute(statement)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        else:
            raise ChunkStoreError(
                f"chunk database has schema version {version}, this ragserve knows {SCHEMA_VERSION}"
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_token_text(token: str) -> bool:
    """Whether the FTS tokenizer finds at least one token in ``token``."""
    return any(
        unicodedata.category(char)[0] in TOKEN_CATEGORIES or unicodedata.category(char) == "Co"
        for char in token
    )


def _statements(script: str) -> list[str]:
    """Split the DDL script into statements (triggers hold ``;`` inside BEGIN ... END)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    return statements
