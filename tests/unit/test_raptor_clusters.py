"""RAPTOR's clustering: groups that cover every text, soft membership, determinism."""

from __future__ import annotations

import numpy as np

from ragserve.rag.raptor import cluster


def blobs(seed: int = 1) -> np.ndarray:
    """Two tight, far-apart groups of 10 unit vectors in 32 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, 32))
    centres[0, 0] = centres[1, 1] = 1.0
    points = np.vstack([centres[i] + 0.01 * rng.standard_normal((10, 32)) for i in (0, 1)])
    normalised: np.ndarray = points / np.linalg.norm(points, axis=1, keepdims=True)
    return normalised


def test_separate_groups_become_separate_clusters() -> None:
    groups = cluster(blobs(), max_cluster=8, threshold=0.1, random_seed=0)
    assert sorted(map(sorted, groups)) == [list(range(10)), list(range(10, 20))]


def test_the_same_input_and_seed_give_the_same_clusters() -> None:
    first = cluster(blobs(), max_cluster=8, threshold=0.1, random_seed=3)
    assert cluster(blobs(), max_cluster=8, threshold=0.1, random_seed=3) == first


def test_max_cluster_one_puts_everything_together() -> None:
    assert cluster(blobs(), max_cluster=1, threshold=0.1, random_seed=0) == [list(range(20))]


def test_two_texts_or_fewer_are_one_cluster() -> None:
    vectors = blobs()[:2]
    assert cluster(vectors, max_cluster=8, threshold=0.1, random_seed=0) == [[0, 1]]
    assert cluster(vectors[:1], max_cluster=8, threshold=0.1, random_seed=0) == [[0]]


def test_every_text_is_in_a_cluster_even_with_a_high_threshold() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((30, 16))
    groups = cluster(vectors, max_cluster=6, threshold=1.0, random_seed=0)
    members = [row for group in groups for row in group]
    assert sorted(members) == list(range(30))  # each once: no probability is above 1.0


def test_a_text_between_two_clusters_joins_both_under_a_low_threshold() -> None:
    rng = np.random.default_rng(0)
    left, right = rng.normal((-2, 0), 0.5, (40, 2)), rng.normal((2, 0), 0.5, (40, 2))
    vectors = np.vstack([left, right, [[0.0, 0.0]]])  # the last one sits halfway
    low = cluster(vectors, max_cluster=8, threshold=0.1, random_seed=0)
    assert [len(group) for group in low] == [41, 41] and all(80 in group for group in low)
    high = cluster(vectors, max_cluster=8, threshold=0.6, random_seed=0)
    assert sum(80 in group for group in high) == 1
