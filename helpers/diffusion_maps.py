"""Diffusion maps as taught, in the scikit-learn style, with a dense and a sparse kernel.

The algorithm: distances D; epsilon = 5% of the data's diameter; W = exp(-D^2 / epsilon);
P = diag(row sums of W); K = P^-alpha W P^-alpha (alpha = 1 as taught); Q = diag(row sums
of K); T_hat = Q^-1/2 K Q^-1/2, symmetric and similar to the Markov matrix Q^-1 K; the L+1
largest eigenpairs (a_l, v_l) of T_hat; lambda_l = a_l^(1 / (2 epsilon)); phi_l = Q^-1/2 v_l.

The sparse kernel keeps only pairs closer than the radius where the kernel falls below
``tol`` (found with a k-d tree), so its memory grows with the number of neighbours, not N^2.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, cKDTree
from scipy.spatial.distance import cdist, pdist, squareform

from .pca import validate_data

KERNELS = ("auto", "dense", "sparse")


# --------------------------------------------------------------------------- geometry


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


def _scale_symmetric(matrix: sp.csr_matrix, scale: np.ndarray, chunk: int = 1 << 22) -> None:
    """In place: entry (i, j) *= scale[i] * scale[j] (the product first, so symmetry stays exact)."""
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    row_bounds = np.searchsorted(indptr, np.arange(0, indptr[-1], chunk), side="right") - 1
    for a, b in zip(row_bounds, [*row_bounds[1:], len(indptr) - 1], strict=True):
        if b <= a:
            continue
        lo, hi = indptr[a], indptr[b]
        rows = np.repeat(np.arange(a, b), np.diff(indptr[a:b + 1]))
        data[lo:hi] *= scale[rows] * scale[indices[lo:hi]]


def _row_sums(matrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1)).ravel()


# --------------------------------------------------------------------------- eigensolver


class _ThreadedOperator(sla.LinearOperator):
    """A symmetric sparse matrix whose products run on row blocks in parallel threads.

    scipy's sparse products release the GIL but use one core; sparse products are bound by
    memory bandwidth, so two threads give about 1.4x on two cores.
    """

    def __init__(self, matrix: sp.csr_matrix, n_threads: int):
        super().__init__(dtype=matrix.dtype, shape=matrix.shape)
        bounds = np.linspace(0, matrix.shape[0], n_threads + 1).astype(int)
        indptr = matrix.indptr
        # Row blocks as views of the matrix's arrays (no copy of the data).
        self.blocks = [sp.csr_matrix((matrix.data[indptr[a]:indptr[b]], matrix.indices[indptr[a]:indptr[b]],
                                      (indptr[a:b + 1] - indptr[a]).astype(indptr.dtype)),
                                     shape=(b - a, matrix.shape[1]), copy=False)
                       for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None

    def _matvec(self, x):
        x = np.ravel(x)
        if self.pool is None:
            return self.blocks[0] @ x
        return np.concatenate(list(self.pool.map(lambda block: block @ x, self.blocks)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def largest_eigenpairs(matrix, k: int, *, seed: int = 0, n_threads: int | None = None):
    """The k largest eigenpairs of a symmetric matrix, sorted by decreasing eigenvalue.

    Dense: LAPACK's subset eigensolver (exact). Sparse: Lanczos (ARPACK, which='LA') with
    a seeded start vector, a generous Krylov space for the eigenvalues clustered near 1, and
    threaded products.
    """
    n = matrix.shape[0]
    if sp.issparse(matrix):
        operator = _ThreadedOperator(matrix.tocsr(), n_threads or min(os.cpu_count() or 1, 4))
        try:
            start = np.random.default_rng(seed).standard_normal(n)
            values, vectors = sla.eigsh(operator, k=k, which="LA", v0=start, ncv=min(n, max(2 * k + 1, 4 * k)),
                                        tol=0.0, maxiter=100 * n)
        finally:
            operator.close()
    else:
        values, vectors = scipy.linalg.eigh(matrix, subset_by_index=[n - k, n - 1], driver="evr")
    order = np.argsort(-values, kind="stable")
    return values[order], vectors[:, order]


def _fix_signs(vectors: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Make each vector positive at its largest-magnitude entry (ties: the lexicographically
    smallest data point), so results do not depend on the solver or on the order of points."""
    rank = np.empty(len(X), dtype=np.int64)
    rank[np.lexsort(X.T[::-1])] = np.arange(len(X))
    fixed = vectors.copy()
    for column in range(vectors.shape[1]):
        magnitude = np.abs(vectors[:, column])
        top = np.flatnonzero(magnitude >= magnitude.max() * (1.0 - 1e-8))
        anchor = top[np.argmin(rank[top])]
        if vectors[anchor, column] < 0:
            fixed[:, column] *= -1.0
    return fixed


# --------------------------------------------------------------------------- estimator


class DiffusionMap:
    """Diffusion maps (Coifman and Lafon 2006) as taught, with a dense or a sparse kernel.

    Parameters
    ----------
    n_eigenpairs : int
        L; the L + 1 largest eigenpairs are computed (phi_0 included).
    epsilon : float or None
        Kernel bandwidth; None means ``epsilon_fraction`` times the data's diameter.
    epsilon_fraction : float
        Share of the diameter used for epsilon (0.05 as taught).
    alpha : float
        Density normalisation exponent, K = P^-alpha W P^-alpha (1 as taught).
    kernel : {"auto", "dense", "sparse"}
        "auto" uses the dense kernel up to ``dense_limit`` points.
    tol : float
        The sparse kernel drops values below ``tol``.
    seed : int
        Seeds the Lanczos start vector.

    Attributes
    ----------
    epsilon_, diameter_, kernel_ : the bandwidth, the data's diameter, the kernel used.
    markov_eigenvalues_ : (L+1,) the a_l, eigenvalues of T_hat and of the Markov matrix Q^-1 K.
    eigenvalues_ : (L+1,) lambda_l = a_l^(1 / (2 epsilon)).
    eigenfunctions_ : (n, L+1) phi_l = Q^-1/2 v_l at the training points, v_l of unit length.
    mean_neighbours_ : the mean number of kernel entries per row (n for the dense kernel).
    """

    def __init__(self, n_eigenpairs: int = 5, *, epsilon: float | None = None, epsilon_fraction: float = 0.05,
                 alpha: float = 1.0, kernel: str = "auto", tol: float = 1e-8, dense_limit: int = 2500,
                 seed: int = 0, n_threads: int | None = None):
        self.n_eigenpairs = n_eigenpairs
        self.epsilon = epsilon
        self.epsilon_fraction = epsilon_fraction
        self.alpha = alpha
        self.kernel = kernel
        self.tol = tol
        self.dense_limit = dense_limit
        self.seed = seed
        self.n_threads = n_threads

    def _validate(self, X) -> np.ndarray:
        X = validate_data(X)
        L = self.n_eigenpairs
        if isinstance(L, bool) or not isinstance(L, numbers.Integral) or L < 1:
            raise ValueError(f"n_eigenpairs must be a positive integer, got {L!r}.")
        if L + 1 > len(X) - 1:
            raise ValueError(
                f"{L + 1} eigenpairs (phi_0 to phi_{L}) were requested from only {len(X)} points; "
                f"use at most n_eigenpairs = {len(X) - 2} or more points."
            )
        if self.epsilon is not None and not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}.")
        if not 0 < self.epsilon_fraction:
            raise ValueError(f"epsilon_fraction must be positive, got {self.epsilon_fraction!r}.")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha!r}.")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}.")
        if not 0.0 < self.tol < 1.0:
            raise ValueError(f"tol must be in (0, 1), got {self.tol!r}.")
        return X

    def fit(self, X) -> DiffusionMap:
        """Compute the kernel, its normalisations and the L+1 largest eigenpairs; returns self."""
        X = self._validate(X)
        n = len(X)
        self.diameter_ = diameter(X)
        if self.diameter_ == 0.0:
            raise ValueError("all points coincide (diameter 0); diffusion maps are undefined.")
        self.epsilon_ = float(self.epsilon) if self.epsilon is not None else self.epsilon_fraction * self.diameter_
        self.kernel_ = self.kernel if self.kernel != "auto" else ("dense" if n <= self.dense_limit else "sparse")
        self.X_fit_ = X
        if self.kernel_ == "dense":
            W = dense_kernel(X, self.epsilon_)
            self._check_connected(sp.csr_matrix(np.where(W >= self.tol, W, 0.0)))
            self.mean_neighbours_ = float(n)
        else:
            self.tree_ = cKDTree(X)
            W = sparse_kernel(X, self.epsilon_, self.tol, tree=self.tree_)
            self._check_connected(W)
            self.mean_neighbours_ = W.nnz / n
        T, self.p_, q = self._normalise(W)
        values, vectors = largest_eigenpairs(T, self.n_eigenpairs + 1, seed=self.seed, n_threads=self.n_threads)
        self.markov_eigenvalues_ = values
        self.eigenvalues_ = np.power(np.clip(values, 0.0, None), 1.0 / (2.0 * self.epsilon_))
        self.eigenfunctions_ = _fix_signs(vectors, X) / np.sqrt(q)[:, None]
        return self

    def _normalise(self, W):
        """K = P^-a W P^-a and T_hat = Q^-1/2 K Q^-1/2; returns T_hat, p and q."""
        p = _row_sums(W)
        scale = p ** -self.alpha
        if sp.issparse(W):  # in place: W becomes K, then T_hat, exactly symmetric throughout
            _scale_symmetric(W, scale)
            q = _row_sums(W)
            _scale_symmetric(W, 1.0 / np.sqrt(q))
            T = W
        else:
            K = scale[:, None] * W * scale[None, :]
            q = K.sum(axis=1)
            root = 1.0 / np.sqrt(q)
            T = root[:, None] * K * root[None, :]
            T = (T + T.T) * 0.5
        return T, p, q

    def _check_connected(self, graph) -> None:
        n_parts, labels = connected_components(graph, directed=False)
        if n_parts > 1:
            sizes = np.bincount(labels)
            raise ValueError(
                f"the kernel graph falls apart into {n_parts} disconnected pieces (sizes "
                f"{sorted(sizes.tolist(), reverse=True)[:5]}) at epsilon = {self.epsilon_:.4g}: the data is "
                "not connected at this scale. Use a larger epsilon (or epsilon_fraction), or embed each "
                "piece on its own."
            )

    def fit_transform(self, X) -> np.ndarray:
        """Fit and return phi_1 ... phi_L at the training points, shape (n, L)."""
        return self.fit(X).eigenfunctions_[:, 1:]

    def transform(self, Y) -> np.ndarray:
        """Nystrom extension: phi_1 ... phi_L at new points, shape (m, L).

        phi_l(y) = (1 / a_l) sum_j t(y, x_j) phi_l(x_j), with t the Markov kernel built with the
        same bandwidth, normalisation and cut-off as in fit; at training points it gives phi_l.
        """
        return self.nystrom(Y)[:, 1:]

    def nystrom(self, Y) -> np.ndarray:
        """Nystrom extension of all eigenfunctions phi_0 ... phi_L, shape (m, L+1)."""
        if not hasattr(self, "eigenfunctions_"):
            raise RuntimeError("this DiffusionMap is not fitted yet; call fit(X) first.")
        Y = validate_data(Y, name="Y", min_samples=1)
        if Y.shape[1] != self.X_fit_.shape[1]:
            raise ValueError(f"Y has {Y.shape[1]} features, but the map was fitted on {self.X_fit_.shape[1]}.")
        if self.kernel_ == "dense":
            W = dense_kernel(self.X_fit_, self.epsilon_, Y)
        else:
            W = sparse_kernel(self.X_fit_, self.epsilon_, self.tol, Y=Y, tree=self.tree_)
        p_y = _row_sums(W)
        if np.any(p_y == 0):
            raise ValueError(
                f"{int(np.sum(p_y == 0))} new points are farther than the kernel's reach from every "
                "training point; they cannot be embedded."
            )
        scale_x = self.p_ ** -self.alpha
        if sp.issparse(W):
            K = sp.diags(p_y ** -self.alpha) @ W @ sp.diags(scale_x)
            T = sp.diags(1.0 / _row_sums(K)) @ K
        else:
            K = (p_y ** -self.alpha)[:, None] * W * scale_x[None, :]
            T = K / K.sum(axis=1, keepdims=True)
        return np.asarray(T @ self.eigenfunctions_) / self.markov_eigenvalues_[None, :]

    def __repr__(self) -> str:
        return f"DiffusionMap(n_eigenpairs={self.n_eigenpairs!r}, kernel={self.kernel!r})"


# --------------------------------------------------------------------------- analysis


def local_linear_residuals(eigenfunctions: np.ndarray, *, regressors: str = "first", bandwidth_scale: float = 1 / 3,
                           max_points: int = 2000, seed: int = 0, ridge: float = 1e-10) -> np.ndarray:
    """Normalised leave-one-out residuals of a local linear regression of phi_k on earlier ones.

    Dsilva et al. (2018): r_k near 0 means phi_k is a function of the regressors (a harmonic),
    near 1 a new direction. ``regressors`` is "first" (phi_1 only, the sheet's question) or
    "previous" (phi_1 ... phi_{k-1}, as in the paper). Column 0 (phi_0) is ignored;
    r_1 = 1 by definition. Returns r_1 ... r_L. Uses a seeded subset of ``max_points``.
    """
    phi = np.asarray(eigenfunctions, dtype=float)[:, 1:]
    if phi.ndim != 2 or phi.shape[1] < 1:
        raise ValueError("expected eigenfunctions of shape (n, L+1) with L >= 1.")
    if regressors not in ("first", "previous"):
        raise ValueError(f"regressors must be 'first' or 'previous', got {regressors!r}.")
    if len(phi) > max_points:
        phi = phi[np.sort(np.random.default_rng(seed).choice(len(phi), max_points, replace=False))]
    residuals = [1.0]
    for k in range(1, phi.shape[1]):
        inputs = phi[:, :1] if regressors == "first" else phi[:, :k]
        residuals.append(_loo_local_linear(inputs, phi[:, k], bandwidth_scale, ridge))
    return np.asarray(residuals)


def _loo_local_linear(inputs: np.ndarray, target: np.ndarray, bandwidth_scale: float, ridge: float) -> float:
    squared = squareform(pdist(inputs, "sqeuclidean"))
    bandwidth = bandwidth_scale * np.median(np.sqrt(squared[np.triu_indices(len(inputs), 1)]))
    weights = np.exp(-squared / bandwidth**2)
    np.fill_diagonal(weights, 0.0)  # leave one out
    design = np.hstack([np.ones((len(inputs), 1)), inputs])
    gram = np.einsum("ij,jk,jl->ikl", weights, design, design)
    moment = np.einsum("ij,jk,j->ik", weights, design, target)
    gram += ridge * np.eye(design.shape[1])[None]
    coefficients = np.linalg.solve(gram, moment[..., None])[..., 0]
    predicted = np.einsum("ik,ik->i", design, coefficients)
    return float(np.sqrt(np.sum((target - predicted) ** 2) / np.sum(target**2)))


def fourier_content(phi: np.ndarray, t: np.ndarray, max_frequency: int = 10) -> tuple[int, float]:
    """The frequency m whose pair cos(m t), sin(m t) explains most of phi's variance, and that share."""
    phi = np.asarray(phi, float) - np.mean(phi)
    total = float(np.sum(phi**2))
    if total == 0.0:
        return 0, 1.0
    best = (0, 0.0)
    for m in range(1, max_frequency + 1):
        basis = np.column_stack([np.cos(m * t), np.sin(m * t)])
        coef, *_ = np.linalg.lstsq(basis, phi, rcond=None)
        share = float(np.sum((basis @ coef) ** 2) / total)
        if share > best[1]:
            best = (m, share)
    return best


def false_neighbour_fraction(data: np.ndarray, embedding: np.ndarray, *, factor: float = 5.0) -> float:
    """Share of points whose nearest neighbour in the embedding is far away in the data.

    "Far" means more than ``factor`` times the median nearest-neighbour distance in the
    data. An embedding of a curve that crosses itself brings distant parts of the curve
    together, so this share is the computed check for self-intersections.
    """
    data, embedding = np.asarray(data, float), np.asarray(embedding, float)
    if len(data) != len(embedding):
        raise ValueError(f"data and embedding must have the same points, got {len(data)} and {len(embedding)}.")
    data_distances, _ = cKDTree(data).query(data, k=2)
    typical = np.median(data_distances[:, 1])
    _, neighbours = cKDTree(embedding).query(embedding, k=2)
    far = np.linalg.norm(data - data[neighbours[:, 1]], axis=1) > factor * typical
    return float(np.mean(far))


def periodic_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sheet's periodic data set: x_k = (cos t_k, sin t_k), t_k = 2 pi k / (n + 1), k = 1..n."""
    if n < 3:
        raise ValueError(f"the periodic data set needs at least 3 points, got {n}.")
    t = 2 * np.pi * np.arange(1, n + 1) / (n + 1)
    return np.column_stack([np.cos(t), np.sin(t)]), t


def first_new_direction(residuals: np.ndarray, threshold: float = 0.5) -> int | None:
    """The first l > 1 whose residual r_l exceeds ``threshold`` (residuals hold r_1, r_2, ...)."""
    above = np.flatnonzero(np.asarray(residuals)[1:] > threshold)
    return int(above[0]) + 2 if above.size else None


def smallest_unfolding_dimension(data: np.ndarray, eigenfunctions: np.ndarray, *, factor: float = 5.0,
                                 max_share: float = 0.01) -> tuple[int | None, np.ndarray]:
    """The smallest m whose embedding (phi_1 ... phi_m) has at most ``max_share`` false neighbours.

    Returns m (None if no m up to L qualifies) and the false-neighbour share for m = 1..L.
    """
    shares = np.array([false_neighbour_fraction(data, eigenfunctions[:, 1:m + 1], factor=factor)
                       for m in range(1, eigenfunctions.shape[1])])
    good = np.flatnonzero(shares <= max_share)
    return (int(good[0]) + 1 if good.size else None), shares
