"""The results file of a run: every number the report quotes, with the parameters and the
environment that produced them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from helpers.core.files import ROOT, figures_dir, result_file, write_atomic
from helpers.core.versions import installed, python

from .parameters import LOCATION_PARAMETERS

#: Distributions whose versions the report lists (those not installed are left out).
REPORTED_PACKAGES = (
    "numpy", "scipy", "scikit-learn", "scikit-image", "pandas", "matplotlib", "pillow",
    "keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "papermill", "nbconvert", "ipykernel",
)


def environment_versions() -> dict[str, str]:
    """Versions of Python and the reported packages in the running environment."""
    return {"python": python(), **installed(REPORTED_PACKAGES)}


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value


def save_results(task: str, values: Mapping, *, parameters: Mapping | None = None,
                 output_dir: str | os.PathLike = ".") -> Path:
    """Write ``results/<task>.json`` atomically: the numbers, the parameters (but where files go)
    and the environment."""
    path = result_file(f"{task}.json", output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "task": task,
        "parameters": _jsonable({k: v for k, v in (parameters or {}).items() if k not in LOCATION_PARAMETERS}),
        "results": _jsonable(dict(values)),
        "environment": environment_versions(),
    }
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_atomic(path, text)
    figures = sorted(figures_dir(task, output_dir).glob("*.pdf"))
    print(f"Wrote {_shown(path)} and {len(figures)} figures (PDF and PNG) in {_shown(figures_dir(task, output_dir))}/.")
    return path


def _shown(path: Path) -> str:
    """A path the reader can follow from where the code runs (a kernel in JupyterLab runs in notebooks/):
    relative to the working folder when both lie in the repository, else absolute."""
    here = Path.cwd().resolve()
    if path.is_relative_to(ROOT) and here.is_relative_to(ROOT):
        return Path(os.path.relpath(path, here)).as_posix()
    return str(path)
