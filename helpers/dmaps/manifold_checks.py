"""Reading diffusion-map eigenfunctions: which are harmonics of earlier ones (local linear
regression), which Fourier frequency each carries, and whether an embedding intersects itself
(false nearest neighbours)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist, squareform

from helpers.core.validation import validate_data


def local_linear_residuals(eigenfunctions: np.ndarray, *, regressors: str = "first", bandwidth_scale: float = 1 / 3,
                           max_points: int = 2000, seed: int = 0, ridge: float = 1e-10) -> np.ndarray:
    """Normalised leave-one-out residuals of a local linear regression of phi_k on earlier ones.

    Dsilva et al. (2018): r_k near 0 means phi_k is a function of the regressors (a harmonic),
    near 1 a new direction. ``regressors`` is "first" (phi_1 only, the sheet's question) or
    "previous" (phi_1 ... phi_{k-1}, as in the paper). Column 0 (phi_0) is ignored;
    r_1 = 1 by definition. Returns r_1 ... r_L. Uses a seeded subset of ``max_points``.
    """
    phi = validate_data(eigenfunctions, name="eigenfunctions")[:, 1:]
    if phi.shape[1] < 1:
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
    data, embedding = validate_data(data, name="data"), validate_data(embedding, name="embedding")
    if len(data) != len(embedding):
        raise ValueError(f"data and embedding must have the same points, got {len(data)} and {len(embedding)}.")
    data_distances, _ = cKDTree(data).query(data, k=2)
    typical = np.median(data_distances[:, 1])
    _, neighbours = cKDTree(embedding).query(embedding, k=2)
    far = np.linalg.norm(data - data[neighbours[:, 1]], axis=1) > factor * typical
    return float(np.mean(far))


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


def residual_analysis(eigenfunctions: np.ndarray, *, threshold: float = 0.5, seed: int = 0) -> dict:
    """Residuals of each phi_l regressed on phi_1 ("first") and on all earlier ones ("previous"),
    and the first eigenfunction whose residual on phi_1 exceeds ``threshold`` (None if none)."""
    first = local_linear_residuals(eigenfunctions, regressors="first", seed=seed)
    previous = local_linear_residuals(eigenfunctions, regressors="previous", seed=seed)
    new = first_new_direction(first, threshold)
    return {"first": first, "previous": previous, "threshold": threshold, "first_new": new,
            "harmonics": first[1:new - 1] if new else first[1:], "new_residual": first[new - 1] if new else None}


def linear_against_diffusion(points: np.ndarray, eigenfunctions: np.ndarray, *, factor: float = 5.0) -> dict:
    """PCA against the diffusion map as 2-D representations: the PCA energies, the false-neighbour
    share of the first two principal components, that of each pair (phi_1, phi_l), and the best pair
    (as "summary"); and the data in the plane of the first two principal components ("pca_plane")."""
    from helpers.pca import PCA

    pca = PCA().fit(points)
    plane = pca.transform(points, 2)
    pairs = {index: false_neighbour_fraction(points, eigenfunctions[:, [1, index]], factor=factor)
             for index in range(2, eigenfunctions.shape[1])}
    summary = {"energy": pca.energy_, "cumulative_energy": pca.cumulative_energy(),
               "false_neighbours_pca2": false_neighbour_fraction(points, plane, factor=factor),
               "false_neighbours_pairs": pairs, "best_pair": min(pairs, key=pairs.get)}
    return {"summary": summary, "pca_plane": plane}


def fourier_table(eigenfunctions: np.ndarray, t: np.ndarray) -> list[tuple[int, float]]:
    """(frequency, variance share) of each eigenfunction; phi_0 is constant: (0, 1)."""
    return [fourier_content(eigenfunctions[:, index], t) if index else (0, 1.0)
            for index in range(eigenfunctions.shape[1])]


def circle_continuum_eigenvalue(frequency: int) -> float:
    """The continuum limit of lambda_l for frequency m on the unit circle with epsilon at 5% of its
    diameter: lambda = exp(-m^2 / 8) for the heat kernel that exp(-D^2 / epsilon) approximates."""
    return float(np.exp(-frequency**2 / 8.0))


def pair_gaps(markov_eigenvalues: np.ndarray) -> np.ndarray:
    """Relative gaps |a_{l+1} / a_l - 1| within the pairs (1, 2), (3, 4), ... of eigenvalues."""
    a = np.asarray(markov_eigenvalues, dtype=float)
    return np.array([abs(a[index + 1] / a[index] - 1.0) for index in range(1, len(a) - 1, 2)])


def unfolding(data: np.ndarray, eigenfunctions: np.ndarray, *, factor: float = 5.0, max_share: float = 0.01) -> dict:
    """smallest_unfolding_dimension as a dict: the smallest m ("needed", None if none), the share of
    false neighbours for m = 1..L ("shares"), and the share at m ("share_at_needed")."""
    needed, shares = smallest_unfolding_dimension(data, eigenfunctions, factor=factor, max_share=max_share)
    at_needed = None if needed is None else float(shares[needed - 1])
    return {"needed": needed, "shares": shares, "share_at_needed": at_needed}
