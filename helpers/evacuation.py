"""The critical number of people for the main-entrance area of the MI building.

People are placed one after another, each at a position drawn from a distribution p(x);
the critical number is the count at the moment more than ``capacity`` people stand in the
sensitive rectangle. For a share ``p`` of p(x) inside the rectangle, that count is
k + F with k = capacity + 1 and F ~ NegativeBinomial(k, p) (failures before the k-th
success), so a generative model is judged by its Monte-Carlo estimate against the exact
answer for the data's own share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

#: The sensitive area in front of the main entrance: corners (130, 70) and (150, 50).
ENTRANCE = ((130.0, 70.0), (150.0, 50.0))
#: At most this many people may stand in it.
CAPACITY = 100

Sampler = Callable[[int, np.random.Generator], np.ndarray]


def in_rectangle(points, corners=ENTRANCE) -> np.ndarray:
    """Boolean mask of points inside the closed rectangle spanned by two opposite corners."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}.")
    (x0, y0), (x1, y1) = corners
    return ((points[:, 0] >= min(x0, x1)) & (points[:, 0] <= max(x0, x1))
            & (points[:, 1] >= min(y0, y1)) & (points[:, 1] <= max(y0, y1)))


@dataclass(frozen=True)
class CriticalNumber:
    """Summary of the critical-number distribution: mean, median, and a central interval."""

    mean: float
    median: float
    low: float
    high: float
    level: float
    share: float

    def as_dict(self) -> dict:
        return {"mean": self.mean, "median": self.median, "low": self.low, "high": self.high,
                "level": self.level, "share_inside": self.share}


def _check_capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 0:
        raise ValueError(f"capacity must be a non-negative integer, got {capacity!r}.")
    return int(capacity)


def exact_critical_number(share: float, capacity: int = CAPACITY, level: float = 0.9) -> CriticalNumber:
    """The exact critical-number distribution for a known share inside the rectangle."""
    capacity = _check_capacity(capacity)
    if not 0.0 < share <= 1.0:
        raise ValueError(
            f"the share inside the rectangle must be in (0, 1], got {share}; with no one inside, "
            "the area never fills."
        )
    k = capacity + 1
    failures = stats.nbinom(k, share)
    tail = (1.0 - level) / 2.0
    return CriticalNumber(mean=float(k / share), median=k + float(failures.median()), low=k + float(failures.ppf(tail)),
                          high=k + float(failures.ppf(1.0 - tail)), level=level, share=float(share))


def simulate_critical_numbers(sampler: Sampler, *, capacity: int = CAPACITY, repeats: int = 1000,
                              corners=ENTRANCE, seed: int = 0, max_people: int = 10_000_000,
                              batch: int | None = None) -> np.ndarray:
    """Monte-Carlo critical numbers, one per repeat, all repeats drawn together.

    ``sampler(n, rng)`` returns ``n`` positions, shape (n, 2). Each repeat places people
    until more than ``capacity`` stand in the rectangle; the count at that moment is returned.
    """
    capacity = _check_capacity(capacity)
    if isinstance(repeats, bool) or not isinstance(repeats, int | np.integer) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}.")
    rng = np.random.default_rng(seed)
    k = capacity + 1
    if batch is None:  # a pilot draw sizes the batch so that most repeats finish in one pass
        pilot = in_rectangle(_draw(sampler, 20_000, rng), corners).mean()
        if pilot == 0:
            raise RuntimeError(
                "none of 20000 people drawn from the sampler stands in the rectangle; the "
                "distribution puts (almost) no one there, so the area would never fill."
            )
        batch = int(np.ceil(1.3 * k / pilot)) + 64
    # Bound one pass to about 2e7 positions (320 MB as float64 pairs).
    batch = max(1, min(batch, max_people, 20_000_000 // repeats))
    result = np.zeros(repeats, dtype=np.int64)
    inside_so_far = np.zeros(repeats, dtype=np.int64)
    placed = np.zeros(repeats, dtype=np.int64)
    pending = np.arange(repeats)
    while pending.size:
        if placed[pending[0]] >= max_people:
            raise RuntimeError(
                f"{pending.size} of {repeats} repeats placed {max_people} people without filling the "
                "rectangle; the distribution puts (almost) no one there."
            )
        inside = in_rectangle(_draw(sampler, pending.size * batch, rng), corners).reshape(pending.size, batch)
        counts = inside_so_far[pending, None] + np.cumsum(inside, axis=1)
        done = counts[:, -1] >= k
        first = np.argmax(counts >= k, axis=1)  # index of the (capacity + 1)-th person inside
        result[pending[done]] = placed[pending[done]] + first[done] + 1
        inside_so_far[pending] = counts[:, -1]
        placed[pending] += batch
        pending = pending[~done]
    return result


def _draw(sampler: Sampler, n: int, rng: np.random.Generator) -> np.ndarray:
    points = np.asarray(sampler(n, rng), dtype=float)
    if points.shape != (n, 2):
        raise ValueError(f"the sampler must return shape ({n}, 2) for n = {n}, returned {points.shape}.")
    if not np.isfinite(points).all():
        raise ValueError("the sampler returned NaN or infinite positions.")
    return points


def summarize(counts, level: float = 0.9, share: float = float("nan")) -> CriticalNumber:
    """Mean, median and central ``level`` interval of simulated critical numbers."""
    counts = np.asarray(counts, dtype=float)
    tail = (1.0 - level) / 2.0
    low, median, high = np.quantile(counts, [tail, 0.5, 1.0 - tail])
    return CriticalNumber(mean=float(counts.mean()), median=float(median), low=float(low), high=float(high),
                          level=level, share=share)


def resampling_sampler(points) -> Sampler:
    """A sampler that draws positions from a data set with replacement (its empirical distribution)."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"points must be a non-empty (n, 2) array, got shape {points.shape}.")
    return lambda n, rng: points[rng.integers(0, len(points), size=n)]


# --------------------------------------------------------------------------- data and baselines


class MinMaxScaler:
    """Rescale to [-1, 1] with the training set's minimum and maximum, applied unchanged to other
    data and inverted for generated samples (test data is never rescaled with its own range)."""

    def fit(self, X) -> MinMaxScaler:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(f"fit the scaler on an (n, d) array with n >= 2, got shape {X.shape}.")
        self.min_, self.max_ = X.min(axis=0), X.max(axis=0)
        if np.any(self.max_ == self.min_):
            raise ValueError("a feature is constant in the training data; it cannot be rescaled.")
        return self

    def transform(self, X) -> np.ndarray:
        return 2.0 * (np.asarray(X, dtype=float) - self.min_) / (self.max_ - self.min_) - 1.0

    def inverse_transform(self, Z) -> np.ndarray:
        return (np.asarray(Z, dtype=float) + 1.0) / 2.0 * (self.max_ - self.min_) + self.min_


def energy_distance(A, B) -> float:
    """The energy distance between two samples (Szekely and Rizzo): 2 E|a-b| - E|a-a'| - E|b-b'|.

    Zero exactly when the two distributions are equal; the within-sample means leave out
    the zero self-distances (the unbiased form), so it is near zero for two samples of one law.
    """
    from scipy.spatial.distance import cdist, pdist

    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1] or min(len(A), len(B)) < 2:
        raise ValueError(f"need two (n, d) samples with the same d and n >= 2, got {A.shape} and {B.shape}.")
    return float(2.0 * cdist(A, B).mean() - pdist(A).mean() - pdist(B).mean())


def fit_baselines(X, *, seed: int = 0, max_components: int = 15) -> dict[str, Sampler]:
    """Samplers of simple density models fitted to X: one Gaussian, a Gaussian mixture whose
    size is chosen by BIC, and a Gaussian kernel density estimate (Scott's bandwidth)."""
    from scipy.stats import gaussian_kde
    from sklearn.mixture import GaussianMixture

    X = np.asarray(X, dtype=float)
    mean, cov = X.mean(axis=0), np.cov(X, rowvar=False)
    mixtures = [GaussianMixture(k, random_state=seed, n_init=2).fit(X) for k in range(1, max_components + 1)]
    best = min(mixtures, key=lambda m: m.bic(X))
    kde = gaussian_kde(X.T)

    def mixture_sampler(n, rng):
        labels = rng.choice(best.n_components, size=n, p=best.weights_)
        noise = rng.standard_normal((n, X.shape[1]))
        chol = np.linalg.cholesky(best.covariances_)
        return best.means_[labels] + np.einsum("nij,nj->ni", chol[labels], noise)

    def kde_sampler(n, rng):
        centres = X[rng.integers(0, len(X), size=n)]
        return centres + rng.standard_normal((n, X.shape[1])) @ np.linalg.cholesky(kde.covariance).T

    return {
        "single Gaussian": lambda n, rng: rng.multivariate_normal(mean, cov, size=n),
        f"Gaussian mixture ({best.n_components} components, BIC)": mixture_sampler,
        "kernel density estimate": kde_sampler,
    }


# --------------------------------------------------------------------------- the VAE as a density


def vae_sampler(model, scaler: MinMaxScaler) -> Sampler:
    """A sampler of positions from a VAE trained on scaled positions: draws from its p(x)
    (latent prior, then the likelihood's noise) and maps them back with the training scaler."""
    from helpers import vae

    def draw(n, rng):
        return scaler.inverse_transform(vae.sample(model, n, seed=int(rng.integers(2**63))))

    return draw


def sample_quality(samples, train, test, *, n_distance: int = 3000) -> dict[str, float]:
    """How well positions ``samples`` match the data: the share inside the entrance rectangle
    (against the training data's), and energy distances of the first ``n_distance`` samples
    to the test set and to the training set."""
    samples = np.asarray(samples, dtype=float)
    if len(samples) < n_distance:
        raise ValueError(f"need at least {n_distance} samples for the distances, got {len(samples)}.")
    head = samples[:n_distance]
    return {"share_inside": float(in_rectangle(samples).mean()),
            "energy_distance_test": energy_distance(head, test),
            "energy_distance_train": energy_distance(head, train)}


#: Share of the training positions held out to decide when training stops and which
#: configuration wins; the test set is distributed differently and only reports.
VALIDATION_FRACTION = 0.2


def split_validation(train, seed: int = 0, fraction: float = VALIDATION_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of the training positions into (fit, validation)."""
    train = np.asarray(train)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}.")
    order = np.random.default_rng(seed).permutation(len(train))
    n_validation = int(round(fraction * len(train)))
    if n_validation < 1 or n_validation >= len(train):
        raise ValueError(f"{len(train)} training positions are too few to hold out {fraction:.0%} for validation.")
    return train[order[n_validation:]], train[order[:n_validation]]


def fit_vae(train, test, config, *, cache_dir=None, verbose: int = 2):
    """Scale the positions with the training set's scaler and train (or load) a VAE on them.

    A seeded share of the training positions (``VALIDATION_FRACTION``) is held out: its loss
    decides when training stops. The test loss is recorded each epoch ("test_loss"), and the
    snapshots reconstruct the test set. Returns the trained VAE (``helpers.vae.train_vae``)
    and the scaler, fitted on all training positions.
    """
    from helpers import vae

    scaler = MinMaxScaler().fit(train)
    fit_part, validation = split_validation(train, seed=config.seed)
    trained = vae.train_vae(scaler.transform(fit_part).astype(np.float32),
                            scaler.transform(test).astype(np.float32), config,  # test may leave [-1, 1]
                            x_validation=scaler.transform(validation).astype(np.float32),
                            cache_dir=cache_dir, verbose=verbose)
    return trained, scaler


def evaluate_vae(trained, scaler: MinMaxScaler, train, test, *, n_samples: int = 100_000, seed: int = 0,
                 elbo_repeats: int = 20) -> dict[str, float]:
    """The VAE's negative ELBO on the held-out validation positions and on the test set (full
    KL term; ``elbo_repeats`` posterior samples per position), and the quality of
    ``n_samples`` positions drawn from its p(x)."""
    from helpers import vae

    _, validation = split_validation(train, seed=trained.model.seed)

    def elbo(points):
        scaled = np.tile(scaler.transform(points).astype(np.float32), (elbo_repeats, 1))
        return vae.negative_elbo(trained.model, scaled, seed=seed)["negative_elbo"]

    samples = scaler.inverse_transform(vae.sample(trained.model, n_samples, seed=seed))
    return {"validation_negative_elbo": elbo(validation), "test_negative_elbo": elbo(test),
            "sigma": trained.model.sigma, "epochs_trained": len(trained.history["loss"]),
            "best_epoch": trained.best_epoch, **sample_quality(samples, train, test)}


def vae_config(*, hidden=(128, 128), latent_dim: int = 2, kl_weight: float = 1.0, learning_rate: float = 1e-3,
               max_epochs: int = 400, batch_size: int = 64, seed: int = 0, n_test: int = 600,
               snapshot_epochs=(1, 10, 50)):
    """The training configuration of a VAE for positions: the swept choices plus fixed settings
    (stop when the test loss has not improved for 30 epochs, after at least 50 or ``max_epochs``
    if fewer; snapshots reconstruct the whole test set; scaled data may leave [-1, 1])."""
    from helpers import vae

    return vae.TrainingConfig(latent_dim=int(latent_dim), hidden=tuple(int(h) for h in hidden),
                              kl_weight=float(kl_weight), learning_rate=float(learning_rate),
                              batch_size=int(batch_size), max_epochs=int(max_epochs),
                              min_epochs=min(50, int(max_epochs)), patience=30,
                              snapshot_epochs=tuple(int(e) for e in snapshot_epochs if e <= max_epochs),
                              n_shown=int(n_test), seed=int(seed), value_range=None)


def write_positions_csv(path, points) -> Path:
    """Write positions as a CSV file with header ``x,y`` (metres, 3 decimals), atomically: the
    initial positions a crowd simulator can read."""
    from helpers.atomic import write_atomic

    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"positions must be a finite (n, 2) array, got shape {points.shape}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "x,y\n" + "".join(f"{x:.3f},{y:.3f}\n" for x, y in points))
    return path
