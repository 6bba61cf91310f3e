"""``PgChunkStore.replace_vectors``' write: every vector of a dataset at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy
import psycopg

from ragserve.store._pg_schema import Vector
from ragserve.store._rows import check_unchanged


def replace(
    conn: psycopg.Connection[Any],
    dataset_id: str,
    blobs: Mapping[str, bytes],
    expected: Mapping[str, str],
) -> None:
    """Inside the caller's write transaction (holding the dataset's lock): check the dataset's
    vectors are those ``expected`` fingerprints, then set each row's ``vector`` and ``dim`` and
    the dataset's dimension in ``chunk_dataset``."""
    stored = conn.execute(
        "SELECT row_id, id, vector FROM chunk "
        "WHERE dataset_id = %s AND vector IS NOT NULL FOR UPDATE",
        (dataset_id,),
        binary=True,
    ).fetchall()
    check_unchanged(dataset_id, {row[1]: bytes(row[2]) for row in stored}, expected)
    if not stored:
        return
    dim = len(blobs[stored[0][1]]) // 4
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE chunk SET vector = %s, dim = %s WHERE row_id = %s",
            [
                (Vector(numpy.frombuffer(blobs[row[1]], dtype=numpy.float32)), dim, row[0])
                for row in stored
            ],
        )
    conn.execute(
        "UPDATE chunk_dataset SET dim = %s WHERE dataset_id = %s AND vectors > 0",
        (dim, dataset_id),
    )
