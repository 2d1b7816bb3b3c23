"""datafold's diffusion map beside ours, on the same points with the same kernel.

datafold pins older numpy and scikit-learn than the report, so it runs in a virtual environment of
its own (``make datafold`` creates ``.venv-datafold``; ``MLCMS_DATAFOLD_PYTHON`` names another
interpreter). The two environments exchange arrays only: the points and settings go in, and
eigenvalues, eigenvectors and datafold's eigenvector selection come out, as .npz files read
without pickles (``datafold_worker.py`` beside this file runs on the other side).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from helpers.core.files import ROOT
from helpers.core.validation import validate_data

from .kernels import cut_off_radius

#: datafold's interpreter, created by `make datafold` (also part of `make report`).
DATAFOLD_PYTHON = ROOT / ".venv-datafold" / "bin" / "python"
WORKER = Path(__file__).with_name("datafold_worker.py")


class DatafoldUnavailable(RuntimeError):
    """datafold's environment is missing, so the comparison cannot be made."""


class DatafoldError(RuntimeError):
    """datafold ran but failed, or answered with something that is not the expected arrays."""


def datafold_python(python: str | os.PathLike | None = None) -> Path:
    """The interpreter of datafold's environment: ``python``, else $MLCMS_DATAFOLD_PYTHON, else
    .venv-datafold; DatafoldUnavailable if it does not exist."""
    path = Path(python or os.environ.get("MLCMS_DATAFOLD_PYTHON") or DATAFOLD_PYTHON)
    if not path.is_absolute():
        path = ROOT / path
    if not path.is_file():  # the report prints this sentence: no path (it holds the user's name), no given text
        raise DatafoldUnavailable("datafold's environment was not found; `make datafold` creates it (it needs the "
                                  "package index once)")
    return path


def _worker_environment() -> dict[str, str]:
    """The environment of datafold's process: this one's, less what belongs to this interpreter and
    its libraries (a notebook kernel's matplotlib backend, Python paths), with a plain plotting backend."""
    return {**{key: value for key, value in os.environ.items()
               if not key.startswith(("PYTHON", "MPL", "JPY", "VIRTUAL_ENV"))}, "MPLBACKEND": "agg"}


def run_datafold(points, *, epsilon: float, cut_off: float, n_eigenpairs: int, n_subsample: int = 2000,
                 seed: int = 0, python: str | os.PathLike | None = None, timeout: float = 1800) -> dict:
    """datafold's diffusion map of ``points`` with the kernel exp(-D^2 / epsilon) cut off beyond
    ``cut_off``: Markov eigenvalues (descending), eigenvectors (n, n_eigenpairs), the residuals of
    its local regression selection and the two eigenvectors it selects, and datafold's version."""
    points = validate_data(points, name="points")
    if int(n_eigenpairs) != n_eigenpairs or not 2 < n_eigenpairs < len(points):
        raise ValueError(f"n_eigenpairs must be an integer in (2, {len(points)}), got {n_eigenpairs}.")
    interpreter = datafold_python(python)
    with tempfile.TemporaryDirectory(prefix="datafold-") as folder:
        source, target = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(source, points=points, epsilon=float(epsilon), cut_off=float(cut_off),
                 n_eigenpairs=int(n_eigenpairs), n_subsample=int(n_subsample), seed=int(seed))
        try:
            done = subprocess.run([str(interpreter), "-I", str(WORKER), str(source), str(target)],
                                  capture_output=True, text=True, timeout=timeout, env=_worker_environment())
        except subprocess.TimeoutExpired as error:
            raise DatafoldError(f"datafold did not finish within {timeout:.0f} s.") from error
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise DatafoldError(f"datafold failed ({interpreter}): {last}")
        try:
            with np.load(target, allow_pickle=False) as answer:
                result = {key: answer[key] for key in ("eigenvalues", "eigenvectors", "residuals", "selected",
                                                       "version")}
        except (OSError, KeyError, ValueError) as error:
            raise DatafoldError(f"datafold's answer is not the expected arrays: {error}") from error
    return checked_answer(result, len(points), n_eigenpairs)


def checked_answer(result: dict, n_points: int, n_eigenpairs: int) -> dict:
    """datafold's answer, each field checked (shapes, finite numbers, the selection's indices), or a
    DatafoldError that names the field: the worker runs in another environment and is trusted no more
    than a file."""
    problems = []
    if result["eigenvectors"].shape != (n_points, n_eigenpairs) or result["eigenvalues"].shape != (n_eigenpairs,):
        problems.append(f"{result['eigenvectors'].shape} eigenvectors and {result['eigenvalues'].shape} eigenvalues "
                        f"for {n_points} points and {n_eigenpairs} eigenpairs")
    elif not (np.isfinite(result["eigenvectors"]).all() and np.isfinite(result["eigenvalues"]).all()):
        problems.append("eigenvalues or eigenvectors that are not finite numbers")
    if result["residuals"].shape != (n_eigenpairs,) or not np.isfinite(result["residuals"][1:]).all():
        problems.append(f"residuals of shape {result['residuals'].shape}, not {n_eigenpairs} finite numbers (the "
                        "constant phi_0's aside)")
    selected = result["selected"]
    if not (np.issubdtype(selected.dtype, np.integer) and selected.shape == (2,)
            and ((selected >= 1) & (selected < n_eigenpairs)).all()):
        problems.append(f"the selection {selected.tolist()!r}, not two indices of eigenvectors from 1 to "
                        f"{n_eigenpairs - 1}")
    if result["version"].dtype.kind != "U" or result["version"].shape != ():
        problems.append("a version that is not a text")
    if problems:
        raise DatafoldError(f"datafold answered {'; '.join(problems)}.")
    return {**result, "version": str(result["version"])}


def align(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``theirs`` (columns) scaled to the norm of the same column of ``ours`` and given the
    sign that correlates positively with it; and the correlation of each pair (nan for a constant
    column, phi_0)."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if ours.shape != theirs.shape:
        raise ValueError(f"the two sets of eigenfunctions differ in shape: {ours.shape} and {theirs.shape}.")
    a, b = ours - ours.mean(axis=0), theirs - theirs.mean(axis=0)
    norms = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    spread = np.maximum(np.abs(ours).max(axis=0), np.abs(theirs).max(axis=0))
    constant = np.linalg.norm(b, axis=0) <= 1e-9 * np.sqrt(len(b)) * np.maximum(spread, 1e-300)
    correlation = np.where(constant, np.nan, (a * b).sum(axis=0) / np.where(constant, 1.0, norms))
    signs = np.where(np.nan_to_num(correlation, nan=1.0) < 0, -1.0, 1.0)
    scale = np.linalg.norm(ours, axis=0) / np.linalg.norm(theirs, axis=0)
    return theirs * signs * scale, np.minimum(np.abs(correlation), 1.0)  # rounding can pass 1 by an ulp


def compare(dmap, points, our_residuals: dict, *, n_subsample: int = 2000, seed: int = 0,
            python: str | os.PathLike | None = None) -> dict:
    """datafold's diffusion map of ``points`` beside ours (a fitted DiffusionMap ``dmap``), with the
    same epsilon and cut-off radius (that of sparse storage; with dense storage, every pair is kept).

    Returns ``{"available": False, "reason": ...}`` without datafold's environment; else its
    eigenfunctions aligned to ours, both Markov eigenvalues and their differences, the correlation
    of each pair, datafold's residuals and selection beside ours (``our_residuals`` from
    manifold_checks.residual_analysis), and datafold's version."""
    try:
        interpreter = datafold_python(python)
    except DatafoldUnavailable as error:
        return {"available": False, "reason": str(error)}
    points = validate_data(points, name="points")
    ours = dmap.eigenfunctions_
    cut_off = cut_off_radius(dmap.epsilon_, dmap.tol) if dmap.storage_ == "sparse" else np.inf
    theirs = run_datafold(points, epsilon=dmap.epsilon_, cut_off=cut_off, n_eigenpairs=ours.shape[1],
                          n_subsample=n_subsample, seed=seed, python=interpreter)
    aligned, correlation = align(ours, theirs["eigenvectors"])
    differences = theirs["eigenvalues"] - dmap.markov_eigenvalues_
    selected = [int(index) for index in theirs["selected"]]
    return {"available": True, "version": theirs["version"], "epsilon": dmap.epsilon_,
            "cut_off": cut_off if np.isfinite(cut_off) else None,
            "eigenfunctions": aligned, "correlation": correlation,
            "our_eigenvalues": dmap.markov_eigenvalues_, "datafold_eigenvalues": theirs["eigenvalues"],
            "differences": differences, "max_difference": float(np.abs(differences).max()),
            "max_decorrelation": float(1.0 - np.nanmin(correlation)),
            "datafold_residuals": theirs["residuals"], "datafold_selected": selected,
            "datafold_choice": selected[-1], "our_choice": our_residuals["first_new"],
            "same_choice": selected[-1] == our_residuals["first_new"]}


def _scientific(value: float) -> str:
    """A small number as LaTeX, e.g. $3.1 \\times 10^{-12}$ (0 as 0)."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def table(comparison: dict, our_residuals: dict) -> list[list[str]]:
    """One row per eigenfunction l: both Markov eigenvalues, their difference, 1 - |correlation|,
    and both residuals on all earlier eigenfunctions (ours from manifold_checks.residual_analysis)."""
    rows = []
    for index, (ours, theirs, difference) in enumerate(zip(
            comparison["our_eigenvalues"], comparison["datafold_eigenvalues"], comparison["differences"], strict=True)):
        constant = index == 0
        rows.append([str(index), f"{ours:.6f}", f"{theirs:.6f}", _scientific(abs(difference)),
                     "constant" if constant else _scientific(1.0 - comparison["correlation"][index]),
                     "" if constant else f"{our_residuals['previous'][index - 1]:.2f}",
                     "" if constant else f"{comparison['datafold_residuals'][index]:.2f}"])
    return rows


def recorded(comparison: dict) -> dict:
    """The comparison for a results file: without the aligned eigenfunctions (one value per point),
    and with None where a value is undefined (the correlation and residual of the constant phi_0)."""
    def plain(value):
        if isinstance(value, np.ndarray):
            return [None if isinstance(item, float) and np.isnan(item) else item for item in value.tolist()]
        return value

    return {key: plain(value) for key, value in comparison.items() if key != "eigenfunctions"}
