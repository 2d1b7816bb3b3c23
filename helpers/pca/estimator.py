"""Principal component analysis by the singular value decomposition, in the scikit-learn style.

The data matrix X (n_samples x n_features) is centred, X - mean = U S V^T, the principal
directions are the rows of V^T, and the energy of component i is sigma_i^2 / trace(S^2).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from helpers.core.validation import check_int, validate_data


class PCA:
    """Principal component analysis by SVD of the centred data.

    Parameters
    ----------
    n_components : int or None
        Number of components kept by ``transform`` (default: all, min(n_samples, n_features)).

    Attributes
    ----------
    mean_ : (n_features,) the mean subtracted before the SVD.
    components_ : (n_components, n_features) orthonormal principal directions, by decreasing energy.
    singular_values_ : (k,) all singular values of the centred data, k = min(n_samples, n_features).
    energy_ : (k,) energy of each component, sigma_i^2 / sum_j sigma_j^2 (sums to 1).
    n_components_ : the number of components kept.
    """

    def __init__(self, n_components: int | None = None):
        self.n_components = n_components

    # ------------------------------------------------------------------ fitting
    def fit(self, X) -> PCA:
        """Centre ``X`` and compute its SVD; returns self."""
        X = validate_data(X)
        n_samples, n_features = X.shape
        rank_bound = min(n_samples, n_features)
        self.n_components_ = (
            rank_bound
            if self.n_components is None
            else check_int(self.n_components, "n_components", high=rank_bound)
        )
        self.mean_ = X.mean(axis=0)
        # X was validated as finite, and the centred copy is ours to overwrite.
        _, singular_values, vt = scipy.linalg.svd(
            X - self.mean_, full_matrices=False, lapack_driver="gesdd",
            check_finite=False, overwrite_a=True,
        )
        # Deterministic signs: the largest-magnitude entry of each direction is positive.
        signs = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
        signs[signs == 0] = 1.0
        vt *= signs[:, None]
        total = float(np.sum(singular_values**2))
        if total == 0.0:
            raise ValueError("X has zero variance (all samples are equal); PCA is undefined.")
        self.singular_values_ = singular_values
        self.energy_ = singular_values**2 / total
        self.all_components_ = vt
        self.components_ = vt[: self.n_components_]
        self.n_samples_, self.n_features_in_ = n_samples, n_features
        return self

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    # ------------------------------------------------------------------ projections
    def _components(self, n_components: int | None) -> np.ndarray:
        self._check_fitted()
        if n_components is None:
            return self.components_
        k = check_int(n_components, "n_components", high=self.all_components_.shape[0])
        return self.all_components_[:k]

    def transform(self, X, n_components: int | None = None) -> np.ndarray:
        """Coordinates of ``X`` in the leading principal directions, shape (n, n_components)."""
        X = self._check_features(X)
        return (X - self.mean_) @ self._components(n_components).T

    def inverse_transform(self, Z) -> np.ndarray:
        """Map coordinates in the leading ``Z.shape[1]`` directions back to feature space."""
        self._check_fitted()
        Z = validate_data(Z, name="Z", min_samples=1)
        components = self._components(Z.shape[1])
        return Z @ components + self.mean_

    def reconstruct(self, X, n_components: int) -> np.ndarray:
        """Best rank-``n_components`` affine approximation of ``X`` (project, then map back)."""
        return self.inverse_transform(self.transform(X, n_components))

    # ------------------------------------------------------------------ energy
    def cumulative_energy(self) -> np.ndarray:
        """Energy captured by the first 1, 2, ..., k components."""
        self._check_fitted()
        return np.cumsum(self.energy_)

    def energy_loss(self, n_components: int) -> float:
        """Share of the energy lost when only the first ``n_components`` are kept."""
        k = check_int(n_components, "n_components", high=self.energy_.size)
        return float(np.sum(self.energy_[k:]))

    def n_components_for_loss(self, max_loss: float) -> int:
        """The smallest L whose energy loss is strictly below ``max_loss`` (a share in (0, 1])."""
        self._check_fitted()
        if not 0.0 < float(max_loss) <= 1.0:
            raise ValueError(f"max_loss is a share of the energy in (0, 1], got {max_loss}.")
        # loss(L) = sum of energy_[L:]; compute it from the tail to avoid cancellation.
        losses = np.cumsum(self.energy_[::-1])[::-1]  # losses[i] = loss with i components kept
        losses = np.append(losses, 0.0)[1:]  # losses[L-1] = loss with L components
        return int(np.argmax(losses < max_loss)) + 1

    def n_components_for_energy(self, min_energy: float) -> int:
        """The smallest L whose captured energy is strictly above ``min_energy``."""
        return self.n_components_for_loss(1.0 - float(min_energy)) if min_energy < 1 else self.energy_.size

    # ------------------------------------------------------------------ checks
    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise RuntimeError("this PCA is not fitted yet; call fit(X) first.")

    def _check_features(self, X) -> np.ndarray:
        self._check_fitted()
        X = validate_data(X, min_samples=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this PCA was fitted on {self.n_features_in_}."
            )
        return X

    def __repr__(self) -> str:
        return f"PCA(n_components={self.n_components!r})"
