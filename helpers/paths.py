"""Where the repository keeps its inputs and generated outputs."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the helpers package is installed in editable mode).
ROOT = Path(__file__).resolve().parents[1]

#: Downloaded data sets land here (ignored by git).
DATA_DIR = ROOT / "data"


def output_root(output_dir: str | os.PathLike = ".") -> Path:
    """Resolve a notebook's `output_dir` parameter: relative paths are taken from the repo root."""
    path = Path(output_dir).expanduser()
    return path if path.is_absolute() else (ROOT / path).resolve()


def figures_dir(task: str, output_dir: str | os.PathLike = ".") -> Path:
    """Folder for one task's figures, e.g. ``figures/task1``."""
    return output_root(output_dir) / "figures" / task


def results_path(task: str, output_dir: str | os.PathLike = ".") -> Path:
    """The JSON file holding one task's computed numbers, e.g. ``results/task1.json``."""
    return output_root(output_dir) / "results" / f"{task}.json"


def result_file(name: str, output_dir: str | os.PathLike = ".") -> Path:
    """A further file of results beside the tasks' JSON files, e.g. ``results/positions.csv``."""
    return output_root(output_dir) / "results" / name
