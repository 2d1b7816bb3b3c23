"""Densities of positions and how close two samples are: simple baseline density models, the
energy distance with a permutation test, and the quality of generated positions."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist, squareform

from helpers.core.validation import validate_data

from .critical_number import Sampler, in_rectangle


def energy_distance(A, B) -> float:
    """The energy distance between two samples (Szekely and Rizzo): 2 E|a-b| - E|a-a'| - E|b-b'|.

    Zero exactly when the two distributions are equal; the within-sample means leave out
    the zero self-distances (the unbiased form), so it is near zero for two samples of one law.
    """
    A = validate_data(A, name="the first sample")
    B = validate_data(B, name="the second sample", n_features=A.shape[1])
    return float(2.0 * cdist(A, B).mean() - pdist(A).mean() - pdist(B).mean())


def _energy_from_distances(distances: np.ndarray, first: np.ndarray) -> float:
    """The energy distance of the two groups ``first`` / not ``first`` from all pairwise distances."""
    a, b = first, ~first
    n_a, n_b = int(a.sum()), int(b.sum())
    between = distances[np.ix_(a, b)].mean()
    within_a = distances[np.ix_(a, a)].sum() / (n_a * (n_a - 1))
    within_b = distances[np.ix_(b, b)].sum() / (n_b * (n_b - 1))
    return float(2.0 * between - within_a - within_b)


def energy_test(A, B, *, permutations: int = 199, seed: int = 0) -> dict[str, float]:
    """The energy distance of A and B and the permutation p-value of "A and B come from one law".

    Each permutation splits the pooled sample at random into groups of the same sizes; the
    p-value is the share of those distances at least as large as the observed one, counting it.
    """
    A = validate_data(A, name="the first sample")
    B = validate_data(B, name="the second sample", n_features=A.shape[1])
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}.")
    distances = squareform(pdist(np.vstack([A, B])))
    first = np.zeros(len(A) + len(B), dtype=bool)
    first[:len(A)] = True
    observed = _energy_from_distances(distances, first)
    rng = np.random.default_rng(seed)
    null = [_energy_from_distances(distances, rng.permutation(first)) for _ in range(permutations)]
    exceed = int(np.sum(np.asarray(null) >= observed))
    return {"energy_distance": observed, "p_value": (exceed + 1) / (permutations + 1), "permutations": permutations}


def split_halves_distance(X, *, seed: int = 0) -> float:
    """The energy distance between two random halves of X: the level of a sample against itself."""
    X = validate_data(X, name="X", min_samples=4)
    order = np.random.default_rng(seed).permutation(len(X))
    middle = len(X) // 2
    return energy_distance(X[order[:middle]], X[order[middle:]])


def repeated_positions(train, test) -> dict:
    """How often positions recur: the training set's distinct positions, how many of them occur more than
    once and how many training rows those take, and the share of test positions that are training
    positions too (exact equality)."""
    train = validate_data(train, name="train", n_features=2)
    test = validate_data(test, name="test", n_features=2)
    distinct, counts = np.unique(train, axis=0, return_counts=True)
    known = {tuple(point) for point in distinct}
    return {"distinct_training": len(distinct), "repeated_training": int(np.sum(counts > 1)),
            "rows_repeated_training": int(np.sum(counts[counts > 1])),
            "test_in_training": float(np.mean([tuple(point) in known for point in test]))}


def compare_sets(train, test, *, seed: int = 0, permutations: int = 199, significance: float = 0.01) -> dict:
    """How the training and test positions differ: the share of each inside the entrance area,
    the energy distance between them (with its permutation p-value), the distance between two
    random halves of the training set, whether the sets differ at ``significance``, and how often
    positions recur (``repeated_positions``)."""
    test_result = energy_test(train, test, permutations=permutations, seed=seed)
    return {**repeated_positions(train, test),
            "share_inside": {"training": float(in_rectangle(train).mean()), "test": float(in_rectangle(test).mean())},
            "energy_distance_train_test": test_result["energy_distance"], "p_value": test_result["p_value"],
            "permutations": permutations, "significance": significance,
            "energy_distance_train_halves": split_halves_distance(train, seed=seed),
            "differ": bool(test_result["p_value"] < significance)}


def fit_baselines(X, *, seed: int = 0, max_components: int = 15) -> dict[str, Sampler]:
    """Samplers of simple density models fitted to X: one Gaussian, a Gaussian mixture whose
    size is chosen by BIC, and a Gaussian kernel density estimate (Scott's bandwidth)."""
    from scipy.stats import gaussian_kde
    from sklearn.mixture import GaussianMixture

    X = validate_data(X, name="X", min_samples=max(2, max_components))
    mean, cov = X.mean(axis=0), np.cov(X, rowvar=False)
    mixtures = [GaussianMixture(k, random_state=seed, n_init=2).fit(X) for k in range(1, max_components + 1)]
    best = min(mixtures, key=lambda m: m.bic(X))
    kde = gaussian_kde(X.T)
    chol_mixture = np.linalg.cholesky(best.covariances_)
    chol_kde = np.linalg.cholesky(kde.covariance)

    def mixture_sampler(n, rng):
        labels = rng.choice(best.n_components, size=n, p=best.weights_)
        noise = rng.standard_normal((n, X.shape[1]))
        return best.means_[labels] + np.einsum("nij,nj->ni", chol_mixture[labels], noise)

    def kde_sampler(n, rng):
        return X[rng.integers(0, len(X), size=n)] + rng.standard_normal((n, X.shape[1])) @ chol_kde.T

    return {
        "single Gaussian": lambda n, rng: rng.multivariate_normal(mean, cov, size=n),
        f"Gaussian mixture ({best.n_components} components, BIC)": mixture_sampler,
        "kernel density estimate": kde_sampler,
    }


def sample_quality(samples, train, test, *, n_distance: int = 3000) -> dict[str, float]:
    """How well positions ``samples`` match the data: the share inside the entrance rectangle
    (against the training data's), and energy distances of the first ``n_distance`` samples
    to the test set and to the training set."""
    samples = validate_data(samples, name="samples", min_samples=1, n_features=2)
    if len(samples) < n_distance:
        raise ValueError(f"need at least {n_distance} samples for the distances, got {len(samples)}.")
    head = samples[:n_distance]
    return {"share_inside": float(in_rectangle(samples).mean()),
            "energy_distance_test": energy_distance(head, test),
            "energy_distance_train": energy_distance(head, train)}


def baseline_quality(samplers: dict[str, Sampler], train, test, *, n_samples: int, seed: int = 0) -> dict[str, dict]:
    """sample_quality of ``n_samples`` positions from each sampler (each with its own seeded stream)."""
    return {name: sample_quality(sampler(n_samples, np.random.default_rng(seed)), train, test)
            for name, sampler in samplers.items()}
