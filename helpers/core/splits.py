"""Seeded hold-out splits: the validation data that chooses models (stopping, best weights,
configurations), taken from the training data, so that a test set only reports."""

from __future__ import annotations

import numbers

import numpy as np


def holdout(n_samples: int, size: int | float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, validation) of a seeded random split of ``n_samples`` samples.

    ``size`` is the number of validation samples (an int) or their share (a float in (0, 1)).
    Both index arrays are sorted, so the samples keep their order within each part.
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise ValueError(f"the validation size must be a count or a share, got {size!r}.")
    if isinstance(size, numbers.Integral):
        count = int(size)
    else:
        if not 0.0 < size < 1.0:
            raise ValueError(f"a validation share must be in (0, 1), got {size}.")
        count = int(round(size * n_samples))
    if not 1 <= count < n_samples:
        raise ValueError(f"cannot hold out {count} of {n_samples} samples for validation: keep at least one "
                         "sample for each part (1 <= validation size < samples).")
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[count:]), np.sort(order[:count])
