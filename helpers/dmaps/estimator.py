"""Diffusion maps as taught, in the scikit-learn style, with a dense and a sparse kernel.

The algorithm: distances D; epsilon = 5% of the data's diameter; W = exp(-D^2 / epsilon);
P = diag(row sums of W); K = P^-alpha W P^-alpha (alpha = 1 as taught); Q = diag(row sums
of K); T_hat = Q^-1/2 K Q^-1/2, symmetric and similar to the Markov matrix Q^-1 K; the L+1
largest eigenpairs (a_l, v_l) of T_hat; lambda_l = a_l^(1 / (2 epsilon)); phi_l = Q^-1/2 v_l.

The kernels are in ``kernels``, the eigensolvers in ``eigensolvers``; the checks that read the
eigenfunctions (harmonics, self-intersections) in ``manifold_checks``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from helpers.core.validation import check_int, validate_data

from .eigensolvers import largest_eigenpairs
from .kernels import connected_pieces, dense_kernel, diameter, row_sums, scale_entries, sparse_kernel

#: How the kernel matrix is stored: "dense" (exact), "sparse" (entries below ``tol`` dropped), or "auto".
STORAGES = ("auto", "dense", "sparse")


def with_eigenfunctions(count: int, **settings) -> DiffusionMap:
    """A DiffusionMap that computes ``count`` eigenfunctions, phi_0 included (L = count - 1)."""
    return DiffusionMap(check_int(count, "the number of eigenfunctions (phi_0 and phi_1 at least)", low=2) - 1,
                        **settings)


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
    storage : {"auto", "dense", "sparse"}
        How the kernel matrix is stored; "auto" stores it dense up to ``dense_limit`` points. The
        kernel is the same Gaussian either way; sparse storage drops entries below ``tol``.
    tol : float
        The sparse kernel drops values below ``tol``.
    seed : int
        Seeds the Lanczos start vector.

    Attributes
    ----------
    epsilon_, diameter_, storage_ : the bandwidth, the data's diameter, the storage used.
    markov_eigenvalues_ : (L+1,) the a_l, eigenvalues of T_hat and of the Markov matrix Q^-1 K.
    eigenvalues_ : (L+1,) lambda_l = a_l^(1 / (2 epsilon)).
    eigenfunctions_ : (n, L+1) phi_l = Q^-1/2 v_l at the training points, v_l of unit length.
    mean_neighbours_ : the mean number of kernel entries per row (n for the dense kernel).
    """

    def __init__(self, n_eigenpairs: int = 5, *, epsilon: float | None = None, epsilon_fraction: float = 0.05,
                 alpha: float = 1.0, storage: str = "auto", tol: float = 1e-8, dense_limit: int = 2500,
                 seed: int = 0, n_threads: int | None = None):
        self.n_eigenpairs = n_eigenpairs
        self.epsilon = epsilon
        self.epsilon_fraction = epsilon_fraction
        self.alpha = alpha
        self.storage = storage
        self.tol = tol
        self.dense_limit = dense_limit
        self.seed = seed
        self.n_threads = n_threads

    def _validate(self, X) -> np.ndarray:
        X = validate_data(X)
        L = check_int(self.n_eigenpairs, "n_eigenpairs")
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
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, got {self.storage!r}.")
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
        self.storage_ = self.storage if self.storage != "auto" else ("dense" if n <= self.dense_limit else "sparse")
        self.X_fit_ = X
        self.tree_ = cKDTree(X) if self.storage_ == "sparse" else None
        W = self._kernel(X)
        self._check_connected(W)
        self.mean_neighbours_ = float(n) if self.storage_ == "dense" else W.nnz / n
        self.p_ = row_sums(W)
        K = self._normalize(W, self.p_)  # in place, like every step below: W becomes K, then T_hat
        q = row_sums(K)
        root = 1.0 / np.sqrt(q)
        T = scale_entries(K, root, root)  # exactly symmetric
        values, vectors = largest_eigenpairs(T, self.n_eigenpairs + 1, seed=self.seed, n_threads=self.n_threads)
        self.markov_eigenvalues_ = values
        self.eigenvalues_ = np.power(np.clip(values, 0.0, None), 1.0 / (2.0 * self.epsilon_))
        self.eigenfunctions_ = _fix_signs(vectors, X) * root[:, None]
        return self

    def _kernel(self, Y):
        """W_ij = exp(-|y_i - x_j|^2 / epsilon) against the training points x_j, dense or sparse."""
        if self.storage_ == "dense":
            return dense_kernel(self.X_fit_, self.epsilon_, None if Y is self.X_fit_ else Y)
        return sparse_kernel(self.X_fit_, self.epsilon_, self.tol, Y=None if Y is self.X_fit_ else Y,
                             tree=self.tree_)

    def _normalize(self, W, rows_density: np.ndarray):
        """The density normalisation, in place: K = P_rows^-alpha W P_fit^-alpha, where P_fit holds the
        training points' kernel sums. The same step for fit (rows are the training points) and
        for new points (Nystrom)."""
        return scale_entries(W, rows_density ** -self.alpha, self.p_ ** -self.alpha)

    def _check_connected(self, W) -> None:
        sizes = connected_pieces(W, self.tol)
        if len(sizes) > 1:
            raise ValueError(
                f"the kernel graph falls apart into {len(sizes)} disconnected pieces (sizes "
                f"{sizes[:5].tolist()}) at epsilon = {self.epsilon_:.4g}: the data is not connected at this scale. "
                "Use a larger epsilon (or epsilon_fraction), or embed each piece on its own."
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
        W = self._kernel(Y)
        p_y = row_sums(W)
        if np.any(p_y == 0):
            raise ValueError(
                f"{int(np.sum(p_y == 0))} new points are farther than the kernel's reach from every "
                "training point; they cannot be embedded."
            )
        K = self._normalize(W, p_y)
        T = scale_entries(K, 1.0 / row_sums(K), np.ones(len(self.X_fit_)))  # the Markov kernel t(y, x_j)
        return np.asarray(T @ self.eigenfunctions_) / self.markov_eigenvalues_[None, :]

    def __repr__(self) -> str:
        return f"DiffusionMap(n_eigenpairs={self.n_eigenpairs!r}, storage={self.storage!r})"
