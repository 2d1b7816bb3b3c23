"""The critical number of people for the main-entrance area of the MI building.

People are placed one after another, each at a position drawn from a distribution p(x);
the critical number is the count at the moment more than ``capacity`` people stand in the
sensitive rectangle. For a share ``p`` of p(x) inside the rectangle, that count is
k + F with k = capacity + 1 and F ~ NegativeBinomial(k, p) (failures before the k-th
success), so a generative model is judged by its Monte-Carlo estimate against the exact
answer for the data's own share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from helpers.core.validation import check_int, validate_data

#: The sensitive area in front of the main entrance: corners (130, 70) and (150, 50).
ENTRANCE = ((130.0, 70.0), (150.0, 50.0))
#: At most this many people may stand in it.
CAPACITY = 100

Sampler = Callable[[int, np.random.Generator], np.ndarray]


#: The accuracy we ask of a model's mean critical number, relative to the data's exact mean.
ACCEPTABLE_RELATIVE_ERROR = 0.15


def in_rectangle(points, corners=ENTRANCE) -> np.ndarray:
    """Boolean mask of points inside the closed rectangle spanned by two opposite corners."""
    points = validate_data(points, name="points", min_samples=0, n_features=2)
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

    @property
    def tail_share(self) -> float:
        """The share of crowds beyond each end of the central interval, (1 - level) / 2."""
        return (1.0 - self.level) / 2.0

    def as_dict(self) -> dict:
        return {"mean": self.mean, "median": self.median, "low": self.low, "high": self.high,
                "level": self.level, "share_inside": self.share}


def _exact(share: float, capacity: int):
    """The count's distribution is k + F with F ~ NegativeBinomial(k, share), k = capacity + 1."""
    capacity = check_int(capacity, "capacity", low=0)
    if not 0.0 < share <= 1.0:
        raise ValueError(
            f"the share inside the rectangle must be in (0, 1], got {share}; with no one inside, "
            "the area never fills."
        )
    return capacity + 1, stats.nbinom(capacity + 1, share)


def exact_critical_number(share: float, capacity: int = CAPACITY, level: float = 0.9) -> CriticalNumber:
    """The exact critical-number distribution for a known share inside the rectangle."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    k, failures = _exact(share, capacity)
    tail = (1.0 - level) / 2.0
    return CriticalNumber(mean=float(k / share), median=k + float(failures.median()), low=k + float(failures.ppf(tail)),
                          high=k + float(failures.ppf(1.0 - tail)), level=level, share=float(share))


def exact_pmf(share: float, capacity: int = CAPACITY, *, coverage: float = 0.9999) -> tuple[np.ndarray, np.ndarray]:
    """The exact probability of each count (x, p) over the central ``coverage`` of its distribution."""
    k, failures = _exact(share, capacity)
    tail = (1.0 - coverage) / 2.0
    counts = np.arange(int(failures.ppf(tail)), int(failures.ppf(1.0 - tail)) + 1)
    return k + counts, failures.pmf(counts)


def relative_spread(share: float, capacity: int = CAPACITY) -> float:
    """The standard deviation of one critical number relative to its mean, sqrt((1 - p) / k)."""
    k, failures = _exact(share, capacity)
    return float(failures.std() / (k + failures.mean()))


def relative_error(estimate: CriticalNumber, exact: CriticalNumber) -> dict:
    """How far an estimate's mean is from the exact mean: the signed relative error, whether it
    is above, and whether it is within ACCEPTABLE_RELATIVE_ERROR."""
    error = estimate.mean / exact.mean - 1.0
    return {"relative_error": float(error), "above": bool(error > 0),
            "acceptable": bool(abs(error) <= ACCEPTABLE_RELATIVE_ERROR),
            "acceptable_relative_error": ACCEPTABLE_RELATIVE_ERROR}


def pool(counts: Sequence[np.ndarray], *, level: float = 0.9) -> dict:
    """The critical number of an ensemble of trained models, from each model's Monte-Carlo counts.

    ``model_means``: each model's mean; ``mean``: their mean, the ensemble's answer; ``between_models``:
    the sample standard deviation of the models' means, what training (seed, machine) moves;
    ``monte_carlo``: the standard error of one model's mean from its repeats, averaged over the
    models, what more repeats shrink; ``low``, ``high``: a ``level`` interval for the ensemble's mean,
    mean +- t * between_models / sqrt(K) with Student's t of K - 1 degrees of freedom (None for one model).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    counts = [np.asarray(c, dtype=float) for c in counts]
    if not counts or min(len(c) for c in counts) < 2:
        raise ValueError("pooling needs at least one model with at least two repeats.")
    means = np.array([c.mean() for c in counts])
    k, mean = len(means), float(means.mean())
    between = float(means.std(ddof=1)) if k > 1 else None
    half = float(stats.t.ppf(0.5 + level / 2, k - 1) * between / math.sqrt(k)) if k > 1 else None
    return {"models": k, "model_means": means.tolist(), "mean": mean, "between_models": between,
            "monte_carlo": float(np.mean([c.std(ddof=1) / math.sqrt(len(c)) for c in counts])),
            "low": mean - half if half is not None else None, "high": mean + half if half is not None else None,
            "level": level}


def against_aim(pooled: dict, exact: CriticalNumber, aim: float = ACCEPTABLE_RELATIVE_ERROR) -> dict:
    """The ensemble's answer against the data's exact one: its relative error and that of its interval's
    ends, and the verdict the interval allows: "within" ``aim`` when all of it is, "outside" when none
    of it is, "undecided" when it crosses the aim (or there is one model, and no interval)."""
    relative = pooled["mean"] / exact.mean - 1.0
    if pooled["low"] is None:
        ends, verdict = None, "undecided"
    else:
        ends = (pooled["low"] / exact.mean - 1.0, pooled["high"] / exact.mean - 1.0)
        verdict = ("within" if -aim <= ends[0] and ends[1] <= aim else
                   "outside" if ends[1] < -aim or ends[0] > aim else "undecided")
    return {"relative_error": float(relative), "interval": ends, "verdict": verdict, "aim": aim}


def simulate_critical_numbers(sampler: Sampler, *, capacity: int = CAPACITY, repeats: int = 1000,
                              corners=ENTRANCE, seed: int = 0, max_people: int = 10_000_000,
                              batch: int | None = None) -> np.ndarray:
    """Monte-Carlo critical numbers, one per repeat, all repeats drawn together.

    ``sampler(n, rng)`` returns ``n`` positions, shape (n, 2). Each repeat places people
    until more than ``capacity`` stand in the rectangle; the count at that moment is returned.
    """
    capacity = check_int(capacity, "capacity", low=0)
    repeats = check_int(repeats, "repeats")
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
    points = validate_data(sampler(n, rng), name="the sampler's positions", min_samples=0, n_features=2)
    if len(points) != n:
        raise ValueError(f"the sampler must return shape ({n}, 2) for n = {n}, returned {points.shape}.")
    return points


def summarize(counts, level: float = 0.9, share: float = math.nan) -> CriticalNumber:
    """Mean, median and central ``level`` interval of simulated critical numbers."""
    counts = np.asarray(counts, dtype=float)
    tail = (1.0 - level) / 2.0
    low, median, high = np.quantile(counts, [tail, 0.5, 1.0 - tail])
    return CriticalNumber(mean=float(counts.mean()), median=float(median), low=float(low), high=float(high),
                          level=level, share=share)


def summarize_all(counts: dict[str, np.ndarray], shares: dict[str, float], level: float = 0.9) -> dict:
    """summarize() of each entry of ``counts``, with the share inside of the same name."""
    return {name: summarize(values, level=level, share=shares[name]) for name, values in counts.items()}


def resampling_sampler(points) -> Sampler:
    """A sampler that draws positions from a data set with replacement (its empirical distribution)."""
    points = validate_data(points, name="points", min_samples=1, n_features=2)
    return lambda n, rng: points[rng.integers(0, len(points), size=n)]
