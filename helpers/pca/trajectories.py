"""The pedestrian trajectories as PCA sees them: paths reconstructed from a few components, and
how many components the data needs."""

from __future__ import annotations

import numpy as np

from .estimator import PCA

#: The data set's pedestrians: each row holds x_1, y_1, ..., x_15, y_15.
N_PEDESTRIANS = 15


def path(rows: np.ndarray, pedestrian: int) -> np.ndarray:
    """The (steps, 2) path of one pedestrian (0-based) from rows of 2 * N_PEDESTRIANS coordinates."""
    if not 0 <= pedestrian < rows.shape[1] // 2:
        raise ValueError(f"pedestrian {pedestrian} does not exist; the data has pedestrians 0 to "
                         f"{rows.shape[1] // 2 - 1}.")
    return rows[:, 2 * pedestrian:2 * pedestrian + 2]


def reconstructed_paths(data: np.ndarray, pca: PCA, pedestrians, components) -> dict[int, dict[int, np.ndarray]]:
    """``{pedestrian: {0: original path, L: path reconstructed from L components, ...}}``."""
    approximations = {0: data, **{int(n): pca.reconstruct(data, int(n)) for n in components}}
    return {int(p): {n: path(rows, int(p)) for n, rows in approximations.items()} for p in pedestrians}


def energy_summary(pca: PCA, min_energy: float) -> dict:
    """How many components hold more than ``min_energy``, whether two are enough, the cumulative
    energy of the first ten, and what the next component would add."""
    cumulative = pca.cumulative_energy()
    needed = pca.n_components_for_energy(min_energy)
    return {"cumulative_energy": cumulative[:10], "n_components_for_energy": needed, "min_energy": min_energy,
            "two_enough": bool(cumulative[1] > min_energy), "two_components": float(cumulative[1]),
            "energy_at_needed": float(cumulative[needed - 1]),
            "next_component": float(pca.energy_[needed]) if needed < pca.energy_.size else 0.0}
