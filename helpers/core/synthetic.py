"""The sheet's synthetic data sets: points on a circle and the swiss roll, with what is known
of their geometry."""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad


def periodic_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sheet's periodic data set: x_k = (cos t_k, sin t_k), t_k = 2 pi k / (n + 1), k = 1..n."""
    if n < 3:
        raise ValueError(f"the periodic data set needs at least 3 points, got {n}.")
    t = 2 * np.pi * np.arange(1, n + 1) / (n + 1)
    return np.column_stack([np.cos(t), np.sin(t)]), t


def swiss_roll(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's swiss roll without noise: points (n, 3) and their position t along the roll."""
    from sklearn.datasets import make_swiss_roll

    if n < 3:
        raise ValueError(f"the swiss roll needs at least 3 points, got {n}.")
    return make_swiss_roll(n, noise=0.0, random_state=seed)


def swiss_roll_shape(points: np.ndarray, t: np.ndarray) -> dict:
    """The rolled-up rectangle's length (arc length of the spiral r = t over the points' range of t),
    its width (the extent along the roll's axis, y), their ratio, and how many modes along the
    roll come before the first mode across it: the Neumann Laplacian of an L x W rectangle has
    eigenvalues (pi k / L)^2 + (pi m / W)^2, so floor(L / W) modes (k = 1, 2, ...) come first."""
    low, high = float(np.min(t)), float(np.max(t))
    length = quad(lambda s: math.sqrt(s * s + 1.0), low, high)[0]
    width = float(np.ptp(points[:, 1]))
    ratio = length / width
    return {"length": length, "width": width, "ratio": ratio, "modes_along_first": math.floor(ratio),
            "predicted_first_across": math.floor(ratio) + 1}
