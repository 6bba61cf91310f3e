"""The chunk store contract run on the PostgreSQL + pgvector backend (a fresh database per
test on the session's server, ``helpers.pgvector``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract.chunk_store_cases import ChunkStoreContract
from ragserve.store import ChunkStore
from ragserve.store.postgres import PgChunkStore


class TestPgChunkStore(ChunkStoreContract):
    @pytest.fixture
    def store(self, pgvector_url: str) -> Iterator[ChunkStore]:
        store = PgChunkStore(pgvector_url)
        yield store
        store.close()
