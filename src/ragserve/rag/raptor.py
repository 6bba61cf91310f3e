"""RAPTOR's clustering: which texts of one level are summarised together.

The vectors are reduced with PCA to a few dimensions, then a Gaussian mixture is fitted for
every cluster count from 1 to ``max_cluster`` and the count with the lowest BIC is kept (the
RAPTOR paper's recipe, and RAGFlow's). A text joins every cluster whose posterior probability is
above ``threshold``, so a text may be summarised twice and none is left out (the most probable
cluster always takes it). The paper reduces with UMAP; PCA is used here because it is
deterministic, needs no JIT compiler (UMAP's numba) and gave the same clusters on our tests;
see docs/design.md.
"""

from __future__ import annotations

import numpy as np

REDUCED_DIMENSIONS = 12
"""PCA components kept before the mixture is fitted (RAGFlow's UMAP target is at most 12)."""


def cluster(
    vectors: np.ndarray, *, max_cluster: int, threshold: float, random_seed: int
) -> list[list[int]]:
    """Groups of row indices of ``vectors`` (n x d, n >= 1): each non-empty, together covering
    every row, in the order of their first member."""
    count = len(vectors)
    if count <= 2:
        return [list(range(count))]
    # heavy imports, only in the worker that builds RAPTOR
    from sklearn.decomposition import PCA  # type: ignore[import-untyped]
    from sklearn.mixture import GaussianMixture  # type: ignore[import-untyped]

    dimensions = min(REDUCED_DIMENSIONS, count - 2, vectors.shape[1])
    reduced = PCA(n_components=dimensions, random_state=random_seed).fit_transform(vectors)
    best: GaussianMixture | None = None
    best_bic = float("inf")
    for clusters in range(1, min(max_cluster, count - 1) + 1):
        mixture = GaussianMixture(n_components=clusters, random_state=random_seed)
        mixture.fit(reduced)
        bic = float(mixture.bic(reduced))
        if bic < best_bic:
            best, best_bic = mixture, bic
    assert best is not None
    probabilities = best.predict_proba(reduced)
    groups: dict[int, list[int]] = {}
    for row, weights in enumerate(probabilities):
        members = {int(np.argmax(weights))} | {int(k) for k in np.flatnonzero(weights > threshold)}
        for label in sorted(members):
            groups.setdefault(label, []).append(row)
    return sorted(groups.values(), key=lambda group: group[0])
