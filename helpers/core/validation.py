"""The input checks every helper uses: a finite numeric (n, d) array, an integer or a real number
in its range, or a clear error that names the value and what is allowed."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(value, name: str, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (an integer, not a bool), or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    if value < low or (high is not None and value > high):
        allowed = f"of at least {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value}.")
    return int(value)


def check_real(value, name: str, *, low: float = -math.inf, high: float = math.inf, positive: bool = False) -> float:
    """``value`` as a finite float in [low, high] (above 0 if ``positive``), or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if value < low or value > high or (positive and value <= 0):
        bounds = ["above 0" if positive else "", f"at least {low:g}" if low > -math.inf else "",
                  f"at most {high:g}" if high < math.inf else ""]
        raise ValueError(f"{name} must be a number {' and '.join(b for b in bounds if b)}, got {value!r}.")
    return float(value)


def validate_data(X, *, name: str = "X", min_samples: int = 2, n_features: int | None = None,
                  dtype=np.float64, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Return ``X`` as a finite 2-D array of ``dtype`` or raise ValueError saying what is wrong.

    ``n_features`` fixes the number of columns (e.g. 2 for positions); ``value_range`` is a
    closed interval every value must lie in (None: any finite value).
    """
    array = np.asarray(X)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}; reshape a single feature "
            "with X.reshape(-1, 1), a single sample with X.reshape(1, -1), images with x.reshape(len(x), -1)."
        )
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns, got shape {array.shape}.")
    if array.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples, got {array.shape[0]}.")
    if array.shape[1] < 1:
        raise ValueError(f"{name} needs at least one feature, got shape {array.shape}.")
    array = array.astype(dtype, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(f"{name} contains {int(finite.size - np.count_nonzero(finite))} NaN or infinite values; "
                         "remove or impute them first.")
    if value_range is not None and array.size:
        low, high = value_range
        if array.min() < low or array.max() > high:
            hint = "scale images by 1/255" if (low, high) == (0.0, 1.0) else "rescale it with the training set's scaler"
            raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got values in "
                             f"[{array.min():.3g}, {array.max():.3g}]; {hint}.")
    return array
