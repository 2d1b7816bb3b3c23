"""A small hyper-parameter sweep run with papermill: one factor at a time around a base.

A grid file names the notebook that evaluates one configuration, the base parameters, the
values each factor is varied over, and the rule that picks the winner:

    notebook: notebooks/sweeps/task4_vae_config.ipynb
    base: {hidden: [128, 128], latent_dim: 2}
    vary: {hidden: [[64, 64]], latent_dim: [1, 4]}
    choose: {minimize: test_negative_elbo}

Every point is executed into ``<out>/<label>/`` (its notebook and results/point.json), the points
at the same time on the executor of ``helpers.core.executor`` (a local process pool by default, a Dask
cluster with ``--scheduler``), and the table of all points is written atomically to ``<out>.json``:

    python -m helpers.pipeline.sweep params/sweeps/task4_fire_evacuation.yaml build/sweeps/task4_fire_evacuation
    python -m helpers.pipeline.sweep GRID OUT --scheduler tcp://scheduler:8786
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from helpers.core import timings
from helpers.core.executor import Failure, run_all
from helpers.core.files import ROOT, SettingsError, read_yaml_file, terminate_as_interrupt, write_atomic
from helpers.notebook.parameters import ParameterError, check_names

from .kernels import KERNEL_OPTIONS
from .run_notebook import parameter_value

#: The results name each sweep notebook saves under (results/point.json).
POINT = "point"


def points(grid: dict) -> list[tuple[str, dict]]:
    """The base configuration first, then each single-factor change of it, with labels such as
    ``hidden=32x32`` (made of letters, digits and ``_ . = -`` only, whatever the grid's values)."""
    base = dict(grid.get("base") or {})
    result = [("base", base)]
    for factor, values in (grid.get("vary") or {}).items():
        if factor not in base:
            raise ValueError(f"the sweep varies {factor!r}, which the base configuration does not set; add it to base.")
        for value in values:
            if value != base[factor]:
                result.append((_folder_name(f"{factor}={_text(value)}"), {**base, factor: value}))
    return result


def _text(value) -> str:
    return "x".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _folder_name(label: str) -> str:
    """Only letters, digits and ``_ . = -``: a label is a folder name and reaches the report's LaTeX."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label)


def run_point(notebook: str, folder: str, parameters: dict) -> dict:
    """Execute the sweep's notebook once into ``folder`` (in whichever process the executor chose):
    its parameters and metrics as it saved them (results/point.json). The folder is named by the
    point's label."""
    import papermill

    started = time.perf_counter()
    notebook, folder = Path(notebook), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(notebook), str(folder / notebook.name), parameters=parameters,
                               cwd=str(notebook.parent), progress_bar=False, kernel_name="python3",
                               **KERNEL_OPTIONS)
    document = json.loads((folder / "results" / f"{POINT}.json").read_text())
    timings.record("sweep point", folder.name, time.perf_counter() - started)
    return {"parameters": document["parameters"], "metrics": document["results"]}


def run(grid_file: str | Path, out: str | Path, *, overrides: dict | None = None, scheduler: str | None = None,
        log=None) -> dict:
    """Execute every point of the sweep in ``grid_file`` on the executor (``helpers.core.executor``: a
    local process pool, or the Dask cluster at ``scheduler``); return and write the summary.

    A point that fails is reported with its label and traceback while the others finish; the
    summary is written all the same, with the failure in its row, and ``failed`` names such points.
    With ``confirm: {best: N, seeds: [...]}`` in the grid, the N best points run again with those
    seeds and the choice is made on each point's mean (``confirmed_choice``, which also says whether
    the best two are a tie).
    """
    log = log or functools.partial(print, flush=True)  # flushed: make's output may be a pipe
    grid_file, out = Path(grid_file), Path(out)
    grid, notebook, (direction, metric) = checked_grid(grid_file)
    check_names(notebook, overrides or {}, " in --set")
    started = time.perf_counter()
    rows = _run_points(notebook, points(grid), out, overrides, scheduler, log)
    done = [row for row in rows if "failed" not in row]
    best_first = sorted(done, key=lambda row: row["metrics"][metric], reverse=direction == "maximize")
    confirmation = None
    if grid.get("confirm") and done:  # the best few again, with other seeds: the choice is made on their mean
        confirm = grid["confirm"]
        confirmed = best_first[:confirm["best"]]
        extra = [(f"{row['label']}_seed={seed}", {**row["parameters"], "seed": seed})
                 for row in confirmed for seed in confirm["seeds"]]
        again = {row["label"]: row for row in _run_points(notebook, extra, out, overrides, scheduler, log)}
        confirmation = confirmed_choice(confirmed, again, confirm["seeds"], metric, direction)
        rows += list(again.values())
        pick = next(row for row in rows if row["label"] == confirmation["chosen"])
    else:
        pick = best_first[0] if best_first else None
    for row in rows:
        row["chosen"] = row is pick
    summary = {"grid": grid, "rule": f"{direction} {metric}", "chosen": pick["label"] if pick else None,
               "failed": [row["label"] for row in rows if "failed" in row], "points": rows,
               "confirmation": confirmation}
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_atomic(out.with_suffix(".json"), json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if summary["failed"]:  # kept to be read, but older than anything, so that make runs the sweep again
        os.utime(written, (0, 0))
    timings.record("sweep", grid_file.stem, time.perf_counter() - started)
    return summary


def _run_points(notebook: Path, labelled: list[tuple[str, dict]], out: Path, overrides: dict | None, scheduler,
                log) -> list[dict]:
    """Run the notebook once per ``(label, parameters)`` on the executor: a row per point, its parameters
    and metrics, or its failure with the traceback."""
    jobs, requested = {}, {}
    for label, parameters in labelled:
        folder = (out / _folder_name(label)).resolve()
        requested[label] = {**parameters, **(overrides or {}), "output_dir": str(folder)}
        jobs[label] = (str(notebook), str(folder), requested[label])
    log(f"==> {len(jobs)} sweep points: {', '.join(jobs)}")
    outcomes = run_all(run_point, jobs, scheduler=scheduler, log=lambda line: log(f"    sweep point {line}"))
    rows = []
    for label, outcome in outcomes.items():
        if isinstance(outcome, Failure):
            log(f"sweep point {label} failed:\n{outcome.traceback}")
            rows.append({"label": label, "parameters": requested[label], "failed": outcome.error,
                         "traceback": outcome.traceback})
        else:
            rows.append({"label": label, **outcome})
    return rows


def confirmed_choice(confirmed: list[dict], again: dict[str, dict], seeds: list[int], metric: str,
                     direction: str) -> dict:
    """The choice among the ``confirmed`` points (rows of the scan) on the mean of ``metric`` over their
    seeds (the scan's and ``seeds``, whose rows are ``again[f"{label}_seed={seed}"]``); a seed that failed
    is left out. The best two are a tie when the first's lead is within twice the standard error of the
    difference of their means (from the spread over seeds)."""
    per_point = {}
    for row in confirmed:
        runs = [row] + [again[f"{row['label']}_seed={seed}"] for seed in seeds]
        values = [run["metrics"][metric] for run in runs if "failed" not in run]
        per_point[row["label"]] = {"values": values, "mean": float(np.mean(values)),
                                   "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}
    order = sorted(per_point, key=lambda label: per_point[label]["mean"], reverse=direction == "maximize")
    tie, standard_error = False, None
    if len(order) > 1 and all(per_point[label]["sd"] is not None for label in order[:2]):
        first, second = per_point[order[0]], per_point[order[1]]
        standard_error = float(np.sqrt(first["sd"] ** 2 / len(first["values"])
                                       + second["sd"] ** 2 / len(second["values"])))
        tie = abs(first["mean"] - second["mean"]) <= 2 * standard_error
    return {"points": per_point, "chosen": order[0], "runner_up": order[1] if len(order) > 1 else None,
            "tie": bool(tie), "standard_error": standard_error, "seeds": [None, *seeds]}


def checked_grid(grid_file: Path) -> tuple[dict, Path, tuple[str, str]]:
    """The grid in ``grid_file``, its notebook and its rule, each checked before any point runs: a
    ParameterError names what is wrong (a misspelled metric or parameter, a value that is no list)."""
    try:
        grid = read_yaml_file(grid_file)
    except SettingsError as error:
        raise ParameterError(str(error)) from None
    where = f"the sweep grid {grid_file}"
    if not isinstance(grid, dict):
        raise ParameterError(f"{where} must map notebook, base, vary and choose to values.")
    unknown = sorted(set(grid) - {"notebook", "base", "vary", "choose", "confirm"})
    if unknown or not isinstance(grid.get("notebook"), str) or not (ROOT / grid["notebook"]).is_file():
        raise ParameterError(f"{where} must name an existing notebook (notebook: notebooks/sweeps/NAME.ipynb) and "
                             "hold nothing but notebook, base, vary and choose"
                             + (f"; it also has {unknown}." if unknown else "."))
    for part in ("base", "vary"):
        if not isinstance(grid.get(part) or {}, dict):
            raise ParameterError(f"{where}: {part} must map parameter names to values.")
    for name, values in (grid.get("vary") or {}).items():
        if not isinstance(values, list) or not values:
            raise ParameterError(f"{where}: vary: {name} must be a list of the values to try, got {values!r}.")
    choose = grid.get("choose")
    if not (isinstance(choose, dict) and len(choose) == 1 and next(iter(choose)) in ("minimize", "maximize")
            and isinstance(next(iter(choose.values())), str)):
        raise ParameterError(f"{where}: choose must be one rule, minimize: METRIC or maximize: METRIC, got {choose!r}.")
    confirm = grid.get("confirm")
    if confirm is not None and not (isinstance(confirm, dict) and set(confirm) == {"best", "seeds"}
                                    and isinstance(confirm["best"], int) and confirm["best"] >= 2
                                    and isinstance(confirm["seeds"], list) and confirm["seeds"]
                                    and all(isinstance(seed, int) and seed >= 0 for seed in confirm["seeds"])):
        raise ParameterError(f"{where}: confirm must be {{best: N (at least 2), seeds: [other seeds]}}, got "
                             f"{confirm!r}.")
    notebook = ROOT / grid["notebook"]
    (direction, metric), = choose.items()
    metrics = json.loads(notebook.read_text()).get("metadata", {}).get("mlcms_metrics", [])
    if metric not in metrics:
        close = difflib.get_close_matches(metric, metrics, n=1)
        raise ParameterError(f"{where} chooses by {metric!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f", which {notebook.name} does not record; it records {', '.join(metrics)}.")
    check_names(notebook, {**(grid.get("base") or {}), **(grid.get("vary") or {})}, f" in {where}")
    return grid, notebook, (direction, metric)


def load(summary_file: str | Path) -> dict:
    """A sweep's summary (written by ``run``), or an error that says how to make it."""
    path = Path(summary_file)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path}; run the sweep first (`make sweep`, part of "
                                "`make report`).")
    summary = json.loads(path.read_text())
    if summary.get("failed"):
        raise ValueError(f"the sweep in {path} is incomplete: the points {summary['failed']} failed (their "
                         "tracebacks are in the file); fix the cause and run `make sweep` again.")
    return summary


def best_point(summary: dict, **equal) -> dict | None:
    """The scan's best point (seed runs of the confirmation aside) among those whose parameters have
    the values ``equal``, by the sweep's rule; None when there is none."""
    direction, metric = summary["rule"].split(" ", 1)
    rows = [row for row in summary["points"] if "failed" not in row and "_seed=" not in row["label"]
            and all(row["parameters"].get(name) == value for name, value in equal.items())]
    if not rows:
        return None
    return (min if direction == "minimize" else max)(rows, key=lambda row: row["metrics"][metric])


def chosen_configuration(summary: dict, names, overrides: dict | None = None) -> dict:
    """The settings ``names`` of the sweep's chosen point, with ``overrides`` (values that are not
    None) taking their place. Returns the settings, the chosen label, the rule, and the
    overridden settings as {name: [value, the chosen point's value]} (those that differ)."""
    point = next(row for row in summary["points"] if row["label"] == summary["chosen"])
    missing = [name for name in names if name not in point["parameters"]]
    if missing:
        raise KeyError(f"the sweep's points do not record {missing}; rerun the sweep.")
    chosen = {name: point["parameters"][name] for name in names}
    given = {name: value for name, value in (overrides or {}).items() if value is not None}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise KeyError(f"{unknown} are not settings of the sweep's configurations {list(names)}.")
    differs = {name: [value, chosen[name]] for name, value in given.items() if value != chosen[name]}
    return {"settings": {**chosen, **given}, "chosen": summary["chosen"], "rule": summary["rule"],
            "overridden": differs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run a one-factor-at-a-time papermill sweep.")
    parser.add_argument("grid", help="the sweep's YAML file")
    parser.add_argument("out", help="output folder; the summary goes to <out>.json")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter in every point, as papermill's -p reads values, e.g. "
                             "--set cache_dir=build/cache")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the points on the Dask cluster at ADDRESS (default: $MLCMS_SCHEDULER, else a "
                             "local process pool, one worker per core)")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set takes NAME=VALUE, got {item!r}")
        overrides[name] = parameter_value(value)
    try:
        with terminate_as_interrupt():  # SIGTERM (make, kill) stops the points as Ctrl-C does
            summary = run(args.grid, args.out, overrides=overrides, scheduler=args.scheduler)
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the sweep {args.grid} was stopped; its table was not written.", file=sys.stderr)
        return 130
    if summary["failed"]:
        print(f"error: {len(summary['failed'])} of {len(summary['points'])} sweep points failed: "
              f"{', '.join(summary['failed'])} (tracebacks above and in {Path(args.out).with_suffix('.json')})",
              file=sys.stderr)
        return 1
    print(f"chosen by '{summary['rule']}': {summary['chosen']} ({len(summary['points'])} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
