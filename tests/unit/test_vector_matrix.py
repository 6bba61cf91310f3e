"""The in-memory float32 matrix that scores vectors exactly by chunk row id."""

from __future__ import annotations

import numpy
import pytest

from ragserve.store._matrix import VectorMatrix

DIM = 16


def unit_rows(count: int, seed: int) -> numpy.ndarray:
    vectors = numpy.random.default_rng(seed).standard_normal((count, DIM)).astype(numpy.float32)
    return vectors / numpy.linalg.norm(vectors, axis=1, keepdims=True)


def rows(*row_ids: int) -> numpy.ndarray:
    return numpy.asarray(row_ids, dtype=numpy.int64)


def documents(count: int) -> list[str]:
    """Document ``doc-<row % 10>`` for rows 1..count."""
    return [f"doc-{row % 10}" for row in range(1, count + 1)]


@pytest.fixture
def matrix() -> VectorMatrix:
    filled = VectorMatrix(DIM)
    filled.add(numpy.arange(1, 101, dtype=numpy.int64), unit_rows(100, 1), documents(100))
    return filled


def test_nearest_is_exact_cosine_best_first(matrix: VectorMatrix) -> None:
    vectors = unit_rows(100, 1)
    query = unit_rows(1, 2)[0]
    found, scores = matrix.nearest(query, 10)
    expected = numpy.argsort(-(vectors @ query))[:10] + 1
    assert found.tolist() == expected.tolist()
    assert numpy.allclose(scores, numpy.sort(vectors @ query)[::-1][:10], atol=1e-6)


def test_vectors_are_normalised(matrix: VectorMatrix) -> None:
    matrix.add(rows(500), numpy.full((1, DIM), 3.0, dtype=numpy.float32), ["d"])
    found, scores = matrix.scores(numpy.full(DIM, 0.25, dtype=numpy.float32), rows(500))
    assert found.tolist() == [500]
    assert scores[0] == pytest.approx(1.0)


def test_a_zero_vector_scores_zero(matrix: VectorMatrix) -> None:
    matrix.add(rows(600), numpy.zeros((1, DIM), dtype=numpy.float32), ["d"])
    _, scores = matrix.scores(unit_rows(1, 3)[0], rows(600))
    assert scores.tolist() == [0.0]


def test_nearest_among_given_rows_skips_rows_not_held(matrix: VectorMatrix) -> None:
    vectors = unit_rows(100, 1)
    query = unit_rows(1, 4)[0]
    among = rows(5, 6, 7, 999)
    found, _ = matrix.nearest(query, 2, among)
    best = sorted([5, 6, 7], key=lambda row: -float(vectors[row - 1] @ query))[:2]
    assert found.tolist() == best


def test_removed_rows_are_never_found_and_their_slots_are_reused(matrix: VectorMatrix) -> None:
    query = unit_rows(1, 5)[0]
    best = matrix.nearest(query, 1)[0].tolist()
    matrix.remove(rows(*best))
    assert best[0] not in matrix
    assert len(matrix) == 99
    assert best[0] not in matrix.nearest(query, 100)[0].tolist()
    assert len(matrix.nearest(query, 1000)[0]) == 99

    matrix.add(rows(700), query[None, :], ["d"])
    assert len(matrix) == 100
    assert matrix.nearest(query, 1)[0].tolist() == [700]


def test_adding_a_held_row_replaces_its_vector(matrix: VectorMatrix) -> None:
    query = unit_rows(1, 6)[0]
    matrix.add(rows(3), query[None, :], ["d"])
    assert len(matrix) == 100
    assert matrix.nearest(query, 1)[0].tolist() == [3]
    assert matrix.scores(query, rows(3))[1][0] == pytest.approx(1.0)


def test_ties_rank_by_row_id() -> None:
    matrix = VectorMatrix(DIM)
    same = numpy.tile(unit_rows(1, 7), (3, 1))
    matrix.add(rows(30, 10, 20), same, ["d"] * 3)
    assert matrix.nearest(unit_rows(1, 7)[0], 3)[0].tolist() == [10, 20, 30]


def test_growing_past_the_first_capacity_keeps_every_row() -> None:
    matrix = VectorMatrix(DIM)
    vectors = unit_rows(3000, 8)
    for start in range(0, 3000, 700):
        chunk = numpy.arange(start, min(start + 700, 3000), dtype=numpy.int64)
        matrix.add(chunk + 1, vectors[chunk], documents(len(chunk)))
    query = vectors[2345]
    assert len(matrix) == 3000
    assert matrix.nearest(query, 1)[0].tolist() == [2346]


def test_nearest_among_documents_is_exact_within_them(matrix: VectorMatrix) -> None:
    vectors = unit_rows(100, 1)
    query = unit_rows(1, 9)[0]
    found, scores = matrix.nearest(query, 5, document_ids=["doc-3", "doc-7", "unknown"])
    inside = [row for row in range(1, 101) if row % 10 in (3, 7)]
    expected = sorted(inside, key=lambda row: -float(vectors[row - 1] @ query))[:5]
    assert found.tolist() == expected
    assert numpy.allclose(scores, [vectors[row - 1] @ query for row in expected], atol=1e-6)


def test_a_removed_chunk_leaves_its_document(matrix: VectorMatrix) -> None:
    query = unit_rows(1, 10)[0]
    matrix.remove(rows(3, 13, 23))
    found, _ = matrix.nearest(query, 100, document_ids=["doc-3"])
    assert sorted(found.tolist()) == [33, 43, 53, 63, 73, 83, 93]


def test_no_document_matches_nothing(matrix: VectorMatrix) -> None:
    found, scores = matrix.nearest(unit_rows(1, 11)[0], 5, document_ids=[])
    assert found.tolist() == [] and scores.tolist() == []


def test_scores_follow_additions_and_removals(matrix: VectorMatrix) -> None:
    query = unit_rows(1, 12)[0]
    assert matrix.scores(query, rows(5, 500))[0].tolist() == [5]
    matrix.add(rows(500), query[None, :], ["d"])
    matrix.remove(rows(5))
    held, scores = matrix.scores(query, rows(5, 500, 7))
    assert held.tolist() == [500, 7]
    assert scores[0] == pytest.approx(1.0)


def test_documents_held_in_runs_of_slots_score_as_when_scattered() -> None:
    """Chunks of a document fill consecutive slots (scored run by run) until removals and
    re-additions scatter them (scored one by one): both give the exact answer, and a search
    after a change sees it."""
    vectors = unit_rows(4000, 13)
    owner = [f"doc-{(row - 1) // 100}" for row in range(1, 4001)]
    matrix = VectorMatrix(DIM)
    matrix.add(numpy.arange(1, 4001, dtype=numpy.int64), vectors, owner)
    query = unit_rows(1, 14)[0]
    wanted = ["doc-2", "doc-5", "doc-6", "doc-39"]

    def expected(held: dict[int, numpy.ndarray], documents: dict[int, str]) -> list[int]:
        inside = [row for row in held if documents[row] in wanted]
        return sorted(inside, key=lambda row: (-float(held[row] @ query), row))[:150]

    held = {row: vectors[row - 1] for row in range(1, 4001)}
    documents = dict(enumerate(owner, start=1))
    assert matrix.nearest(query, 150, document_ids=wanted)[0].tolist() == expected(held, documents)

    gone = rows(*range(1, 4001, 3))
    matrix.remove(gone)
    replacements = unit_rows(len(gone), 15)
    matrix.add(gone + 10_000, replacements, [f"doc-{row % 40}" for row in gone.tolist()])
    for row, vector in zip(gone.tolist(), replacements, strict=True):
        del held[row]
        held[row + 10_000] = vector
        documents[row + 10_000] = f"doc-{row % 40}"
    found, scores = matrix.nearest(query, 150, document_ids=wanted)
    assert found.tolist() == expected(held, documents)
    assert numpy.allclose(scores, [held[row] @ query for row in found.tolist()], atol=1e-6)
