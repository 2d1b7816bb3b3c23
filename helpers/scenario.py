"""Start positions for a crowd simulator, written as a CSV file that such tools read."""

from __future__ import annotations

from pathlib import Path

from .atomic import write_atomic
from .validation import validate_data


def write_positions_csv(path, points) -> Path:
    """Write positions as a CSV file with header ``x,y`` (metres, 3 decimals), atomically: the
    initial positions a crowd simulator can read."""
    points = validate_data(points, name="positions", min_samples=1, n_features=2)
    path = Path(path)
    write_atomic(path, "x,y\n" + "".join(f"{x:.3f},{y:.3f}\n" for x, y in points))
    return path
