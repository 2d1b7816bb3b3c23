"""Geometry of point clouds: the exact diameter."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

from .validation import validate_data


def diameter(X: np.ndarray) -> float:
    """The exact largest pairwise distance of the points in X.

    In up to three dimensions only convex-hull vertices can realise it; pairs are pruned
    with the bound |u - v| <= |u - c| + |v - c| around the centroid c, so even 10^5 points
    take about a second.
    """
    X = validate_data(X, min_samples=1)
    if len(X) == 1:
        return 0.0
    candidates = X
    if 2 <= X.shape[1] <= 3 and len(X) > 64:
        try:
            candidates = X[ConvexHull(X).vertices]
        except Exception:  # flat or degenerate data: qhull refuses, use every point
            candidates = X
    radius = np.linalg.norm(candidates - candidates.mean(axis=0), axis=1)
    order = np.argsort(-radius, kind="stable")
    candidates, radius = candidates[order], radius[order]
    far = int(np.argmax(np.linalg.norm(candidates - candidates[0], axis=1)))  # a lower bound to prune with
    best = float(np.linalg.norm(candidates - candidates[far], axis=1).max())
    for i in range(len(candidates)):
        if 2.0 * radius[i] <= best:
            break
        stop = int(np.searchsorted(-radius, -(best - radius[i]), side="right"))
        if stop > i + 1:
            best = max(best, float(np.sqrt(((candidates[i + 1:stop] - candidates[i]) ** 2).sum(axis=1)).max()))
    return best
