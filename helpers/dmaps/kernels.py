"""Distances and Gaussian kernel matrices, dense or sparse, and the scalings that normalise them.

The sparse kernel keeps only pairs closer than the radius where the kernel falls below ``tol``
(found with a k-d tree), so its memory grows with the number of neighbours, not N^2.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, cKDTree
from scipy.spatial.distance import cdist, pdist, squareform

from helpers.core.validation import validate_data


def diameter(X: np.ndarray) -> float:
    """The exact largest pairwise distance of the points in X.

    In up to three dimensions only convex-hull vertices can realise it; pairs are pruned with the
    bound |u - v| <= |u - c| + |v - c| around the centroid c, so few pairs are ever measured.
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


def cut_off_radius(epsilon: float, tol: float) -> float:
    """The distance beyond which exp(-d^2 / epsilon) < tol."""
    return float(np.sqrt(epsilon * np.log(1.0 / tol)))


def dense_kernel(X: np.ndarray, epsilon: float, Y: np.ndarray | None = None) -> np.ndarray:
    """W_ij = exp(-|y_i - x_j|^2 / epsilon) for all pairs (Y = X by default)."""
    squared = squareform(pdist(X, "sqeuclidean")) if Y is None else cdist(Y, X, "sqeuclidean")
    return np.exp(-squared / epsilon)


def sparse_kernel(X: np.ndarray, epsilon: float, tol: float, Y: np.ndarray | None = None,
                  tree: cKDTree | None = None, chunk_entries: int = 1 << 20) -> sp.csr_matrix:
    """The Gaussian kernel restricted to pairs closer than cut_off_radius(epsilon, tol).

    Rows are the points of Y (default X). The CSR arrays are allocated once (a counting pass
    first) and filled block by block, with 32-bit indices where they fit: about 12 bytes per
    stored entry. Whether a pair is kept is decided from the same squared distance in both
    orders, so the kernel of X with itself is exactly symmetric.
    """
    radius = cut_off_radius(epsilon, tol)
    tree = tree or cKDTree(X)
    rows_from = X if Y is None else Y
    reach = radius * (1.0 + 1e-9)  # the tree may round at the boundary; our own test decides
    counts = np.asarray(tree.query_ball_point(rows_from, reach, return_length=True), dtype=np.int64)
    total = int(counts.sum())
    index_dtype = np.int32 if max(total, len(X)) < np.iinfo(np.int32).max else np.int64
    data = np.empty(total, dtype=np.float64)
    indices = np.empty(total, dtype=index_dtype)
    indptr = np.zeros(len(rows_from) + 1, dtype=np.int64)
    filled = 0
    # Blocks of rows holding about chunk_entries entries bound the temporaries (~100 bytes each).
    ends = np.searchsorted(np.cumsum(counts), np.arange(chunk_entries, total + chunk_entries, chunk_entries))
    bounds = np.unique(np.concatenate([[0], np.minimum(ends + 1, len(rows_from)), [len(rows_from)]]))
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        block = rows_from[start:stop]
        # All pairs (block row, column) within reach, built in C; zero distances included.
        pairs = cKDTree(block).sparse_distance_matrix(tree, reach, output_type="ndarray")
        rows, cols = pairs["i"], pairs["j"]
        del pairs
        difference = block[rows] - X[cols]
        squared = np.einsum("ij,ij->i", difference, difference)
        del difference
        keep = squared <= radius * radius
        rows, cols, squared = rows[keep], cols[keep], squared[keep]
        order = np.argsort(rows.astype(np.int32), kind="stable")  # group by row
        n_kept = len(order)
        data[filled:filled + n_kept] = np.exp(-squared[order] / epsilon)
        indices[filled:filled + n_kept] = cols[order]
        indptr[start + 1:stop + 1] = np.bincount(rows, minlength=len(block))
        filled += n_kept
    indptr = np.cumsum(indptr).astype(index_dtype)
    return sp.csr_matrix((data[:filled], indices[:filled], indptr), shape=(len(rows_from), len(X)), copy=False)


def scale_entries(matrix, row_scale: np.ndarray, column_scale: np.ndarray, *, chunk: int = 1 << 22):
    """In place: entry (i, j) *= row_scale[i] * column_scale[j]; returns the matrix (dense or CSR).

    The product of the two scales is formed first, so a symmetric matrix scaled by the same
    vector on both sides stays exactly symmetric.
    """
    if not sp.issparse(matrix):
        matrix *= np.multiply.outer(row_scale, column_scale)
        return matrix
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    row_bounds = np.searchsorted(indptr, np.arange(0, indptr[-1], chunk), side="right") - 1
    for a, b in zip(row_bounds, [*row_bounds[1:], len(indptr) - 1], strict=True):
        if b <= a:
            continue
        lo, hi = indptr[a], indptr[b]
        rows = np.repeat(np.arange(a, b), np.diff(indptr[a:b + 1]))
        data[lo:hi] *= row_scale[rows] * column_scale[indices[lo:hi]]
    return matrix


def row_sums(matrix) -> np.ndarray:
    """The row sums of a dense or sparse matrix as a 1-D array."""
    return np.asarray(matrix.sum(axis=1)).ravel()


def connected_pieces(matrix, tol: float) -> np.ndarray:
    """The sizes of the connected pieces of the graph of entries >= ``tol``, largest first."""
    graph = matrix if sp.issparse(matrix) else sp.csr_matrix(matrix >= tol)
    _, labels = connected_components(graph, directed=False)
    return np.sort(np.bincount(labels))[::-1]
