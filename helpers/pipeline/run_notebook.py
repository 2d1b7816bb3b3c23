"""Run one task notebook as one unit: its figures, its results and its executed notebook land
together, and only if the run succeeded.

    python -m helpers.pipeline.run_notebook notebooks/task1_pca.ipynb build/notebooks/task1_pca.ipynb \\
        -f params/task1_pca.yaml [-p NAME VALUE ...]

1. Every parameter name (from the files and -p) is checked against the notebook's parameters
   cell before a kernel starts; a misspelled one stops the run with the closest valid name.
2. papermill executes the notebook with ``output_dir`` set to a fresh folder of this run,
   ``build/runs/<task>.<pid>.<random>/``, so that concurrent runs never share a file.
3. The executed notebook is checked: every code cell completed, and every figure it recorded
   exists with the SHA-256 it recorded.
4. Then ``figures/<task>/`` (the whole folder), the results files and, last, the executed
   notebook replace the previous ones.

A failed run publishes nothing: its executed notebook is kept as ``build/runs/failed/<task>.ipynb``
for a look. An interrupted run (Ctrl-C, SIGTERM) leaves nothing behind; the folder of a killed
one is removed by the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from nbclient.exceptions import DeadKernelError

from helpers.core import timings
from helpers.core.files import ROOT, SettingsError, read_yaml, read_yaml_file, terminate_as_interrupt
from helpers.notebook.figures import sha256_bytes
from helpers.notebook.parameters import ParameterError, check_names

from .kernels import KERNEL_OPTIONS


class RunError(RuntimeError):
    """A notebook run failed or produced outputs that cannot be trusted; nothing was published."""


def runs_dir(root: Path) -> Path:
    return root / "build" / "runs"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(root: Path) -> None:
    """Remove run folders whose process is gone (a run killed with SIGKILL)."""
    folder = runs_dir(root)
    for run in folder.glob("*.*.*") if folder.is_dir() else []:
        pid = run.name.split(".")[-2]
        if run.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(run, ignore_errors=True)


def figure_records(notebook: dict) -> list[dict]:
    """The figures an executed notebook recorded (``mlcms_figure`` display metadata), with the cell id."""
    records = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            meta = output.get("metadata", {}).get("mlcms_figure")
            if meta:
                records.append({**meta, "cell": cell.get("id")})
    return records


def incomplete_cells(notebook: dict) -> list[str]:
    """Code cells that papermill did not complete, as 'cell-07 (failed: ValueError: ...)'."""
    problems = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        run = cell.get("metadata", {}).get("papermill", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            problems.append(f"{cell.get('id')} (failed: {errors[0].get('ename')}: {errors[0].get('evalue')})")
        elif run.get("status") != "completed":
            problems.append(f"{cell.get('id')} ({run.get('status') or 'not run by papermill'})")
        elif not run.get("start_time"):  # after a dead kernel papermill marks the cells it never ran completed
            problems.append(f"{cell.get('id')} (never started)")
    return problems


def last_started(notebook: dict) -> str | None:
    """The id of the last code cell papermill started: where a run stopped that ended without an error."""
    started = [cell.get("id") for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"
               and cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def figure_mismatches(notebook: dict, root: Path) -> list[str]:
    """Recorded figure files under ``root`` that are missing or whose bytes differ from the record."""
    problems = []
    for record in figure_records(notebook):
        for kind in ("pdf", "png"):
            path = record.get(kind)
            expected = (record.get("sha256") or {}).get(kind)
            if not path or not expected:
                problems.append(f"{record.get('label')}: no {kind} checksum recorded (made by an older version)")
                continue
            file = root / path
            if not file.is_file():
                problems.append(f"{path} is missing")
            elif sha256_bytes(file.read_bytes()) != expected:
                problems.append(f"{path} differs from the file this run wrote")
    return problems


def _replace_folder(new: Path, target: Path, trash: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, trash)
    os.replace(new, target)
    shutil.rmtree(trash, ignore_errors=True)


def move_into_place(stage: Path, task: str, executed: Path, out: Path, root: Path) -> None:
    """Move a checked run's outputs into place: figures, results, then the executed notebook."""
    figures = stage / "figures" / task
    if figures.is_dir():
        _replace_folder(figures, root / "figures" / task, stage / "previous-figures")
    results = stage / "results"
    for file in sorted(results.iterdir()) if results.is_dir() else []:
        (root / "results").mkdir(parents=True, exist_ok=True)
        os.replace(file, root / "results" / file.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(executed, out)


def run(notebook: Path, out: Path, parameters: Mapping, *, root: Path = ROOT, log_output: bool = True,
        given_in: str = "") -> Path:
    """Execute ``notebook`` with ``parameters`` and publish its outputs under ``root`` (see the module)."""
    import papermill

    notebook, out, root = Path(notebook), Path(out), Path(root)
    task = notebook.stem
    check_names(notebook, parameters, given_in or f" for {notebook.name}")
    remove_abandoned(root)
    runs_dir(root).mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{task}.{os.getpid()}.", dir=runs_dir(root)))
    executed = stage / f"{task}.ipynb"
    started = time.perf_counter()
    try:
        with terminate_as_interrupt():
            try:
                papermill.execute_notebook(str(notebook), str(executed), parameters={**parameters,
                                           "output_dir": str(stage)}, cwd=str(notebook.parent),
                                           kernel_name="python3", progress_bar=log_output, log_output=log_output,
                                           **KERNEL_OPTIONS)
            except (papermill.PapermillExecutionError, DeadKernelError) as error:
                failed = runs_dir(root) / "failed" / f"{task}.ipynb"
                failed.parent.mkdir(parents=True, exist_ok=True)
                where = f"cell {getattr(error, 'cell_index', '?')}"
                if executed.is_file():
                    document = json.loads(executed.read_text())
                    if isinstance(error, DeadKernelError):
                        where = last_started(document) or where
                    else:
                        where = "; ".join(incomplete_cells(document)[:1]) or where
                    os.replace(executed, failed)
                died = (" The kernel died: it ran out of memory or was killed; smaller sizes in the parameters "
                        "may help." if isinstance(error, DeadKernelError) else "")
                raise RunError(f"{notebook.name} stopped in {where}.{died} Nothing was published; the executed "
                               f"notebook is kept at {failed}.") from error
            document = json.loads(executed.read_text())
            problems = incomplete_cells(document) + figure_mismatches(document, stage)
            if problems:
                raise RunError(f"{notebook.name}: the run's outputs are not complete: {'; '.join(problems)}. "
                               "Nothing was published.")
            move_into_place(stage, task, executed, out, root)
            timings.record("notebook", task, time.perf_counter() - started)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def read_parameters(files: list[Path], pairs: list[tuple[str, str]], texts: list[str] = ()) -> dict:
    """Parameters as papermill takes them: from YAML files (later files win), from YAML texts (``-y``),
    then from ``-p NAME VALUE`` pairs, each value read as papermill reads it (``parameter_value``)."""
    parameters = {}
    loads = [(str(file), lambda file=file: read_yaml_file(file)) for file in files]
    loads += [("-y", lambda text=text: read_yaml(text, "-y")) for text in texts]
    for source, load in loads:
        try:
            values = load()
        except SettingsError as error:
            raise ParameterError(str(error)) from None
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise ParameterError(f"{source} must map parameter names to values, got {type(values).__name__}.")
        parameters.update(values)
    parameters.update({name: parameter_value(value) for name, value in pairs})
    return parameters


def parameter_value(text: str):
    """A ``-p`` value as papermill's command line reads it: True, False and None; an integer (decimal,
    so 010 is ten), a float; otherwise the text itself (lists and mappings go through ``-y``)."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            continue
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline.run_notebook", description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path, help="where the executed notebook goes")
    parser.add_argument("-f", "--parameters-file", type=Path, action="append", default=[])
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("-y", "--yaml", action="append", default=[], help="parameters as a YAML mapping")
    parser.add_argument("--root", type=Path, default=ROOT, help="where figures/ and results/ are published")
    args = parser.parse_args(argv)
    try:
        parameters = read_parameters(args.parameters_file, args.parameter, args.yaml)
        given = [str(f) for f in args.parameters_file] + [f"-p {name}" for name, _ in args.parameter] + (
            ["-y"] if args.yaml else [])
        run(args.notebook, args.out, parameters, root=args.root, given_in=f" in {', '.join(given)}" if given else "")
    except (ParameterError, RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ParameterError) else 1
    except KeyboardInterrupt:
        print(f"interrupted: nothing of {args.notebook.name}'s run was published.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
