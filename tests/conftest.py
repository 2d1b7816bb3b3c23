"""Shared fixtures: a smoke run of each notebook, executed once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.core.files import ROOT


def latex_available() -> bool:
    return all(shutil.which(tool) for tool in ("xelatex", "pandoc", "pdftotext"))


def require_latex() -> None:
    """Skip without the LaTeX toolchain, unless MLCMS_REQUIRE_LATEX=1 (CI) makes that a failure."""
    if latex_available():
        return
    if os.environ.get("MLCMS_REQUIRE_LATEX") == "1":
        pytest.fail("MLCMS_REQUIRE_LATEX=1 but xelatex, pandoc or pdftotext is missing (make system-deps).")
    pytest.skip("LaTeX toolchain not installed (make system-deps)")


def require_datafold() -> None:
    """Skip without datafold's environment (`make datafold`), unless MLCMS_REQUIRE_DATAFOLD=1 (CI)
    makes that a failure."""
    from helpers.dmaps.datafold_reference import DatafoldUnavailable, datafold_python

    try:
        datafold_python()
    except DatafoldUnavailable as error:
        if os.environ.get("MLCMS_REQUIRE_DATAFOLD") == "1":
            pytest.fail(f"MLCMS_REQUIRE_DATAFOLD=1 but {error}.")
        pytest.skip(str(error))


def smoke_parameters(name: str, output_root: Path, **overrides) -> dict:
    """params/smoke/<name>.yaml with ``overrides``; trained models of a smoke run stay in its own folder."""
    params = yaml.safe_load((ROOT / "params" / "smoke" / f"{name}.yaml").read_text()) or {}
    params.update(overrides)
    if "cache_dir:" in (ROOT / "notebooks" / f"{name}.ipynb").read_text():
        params.setdefault("cache_dir", str(output_root / "cache"))
    return params


def run_notebook(name: str, output_root: Path, **overrides) -> Path:
    """Execute notebooks/<name>.ipynb with params/smoke/<name>.yaml into ``output_root`` with
    papermill itself and the repository's engine, as the README runs one by hand."""
    import papermill

    params = smoke_parameters(name, output_root, output_dir=str(output_root), **overrides)
    out = output_root / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters=params,
        cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3", engine_name="mlcms",
    )
    return out


#: Every task notebook with a smoke parameter set, in report order.
SMOKE_NOTEBOOKS = sorted(p.stem for p in (ROOT / "params" / "smoke").glob("task*.yaml"))


@pytest.fixture(scope="session")
def smoke_root(tmp_path_factory) -> Path:
    """Output root of smoke runs of every task notebook (notebooks/, figures/, results/), each run
    through helpers/pipeline/run_notebook.py as `make report` runs them."""
    from helpers.pipeline import run_notebook as runner

    root = tmp_path_factory.mktemp("smoke")
    for name in SMOKE_NOTEBOOKS:
        overrides = {}
        grid = ROOT / "params" / "smoke" / "sweeps" / f"{name}.yaml"
        if grid.is_file():  # the notebook shows its sweep's table: run a small sweep first
            from helpers.pipeline import sweep

            sweep.run(grid, root / "sweeps" / name, overrides={"cache_dir": str(root / "cache")}, log=lambda _: None)
            overrides["sweep_results"] = str(root / "sweeps" / f"{name}.json")
        runner.run(ROOT / "notebooks" / f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb",
                   smoke_parameters(name, root, **overrides), root=root, log_output=False)
    return root


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def smoke_results(root: Path, task: str) -> dict:
    """The results file a smoke run wrote for ``task`` (e.g. "task1")."""
    import json

    return json.loads((root / "results" / f"{task}.json").read_text())


def published_figures(root: Path, task: str) -> set[str]:
    """Names of the figures a run published for ``task``; each must exist as PDF and PNG."""
    folder = root / "figures" / task
    pdfs = {p.stem for p in folder.glob("*.pdf")}
    assert pdfs == {p.stem for p in folder.glob("*.png")}, "every figure needs both a PDF and a PNG"
    return pdfs
