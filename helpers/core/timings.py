"""How long each part of a build took: set-up, notebooks, sweep points, trained models.

``make report`` sets ``MLCMS_TIMINGS`` to a folder of its own; every step that does work there
(the notebooks, the sweep's points, each model trained, in whichever process) drops one small
JSON record into it with ``record``. At the end, ``summarize`` gathers them into
``build/timings.json`` and prints one screen:

    python -m helpers.core.timings record KIND NAME --since EPOCH_SECONDS   (from a Makefile recipe)
    python -m helpers.core.timings summary FOLDER --out build/timings.json --started EPOCH_SECONDS

Without ``MLCMS_TIMINGS`` (JupyterLab, the tests) nothing is recorded. Times never reach the
report: they differ from run to run, and the report is the same bytes every time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from .files import write_atomic

TIMINGS_VARIABLE = "MLCMS_TIMINGS"
#: The kinds of records, in the order the summary lists them.
KINDS = ("setup", "notebook", "sweep", "sweep point", "model", "report")


def record(kind: str, name: str, seconds: float, **details) -> Path | None:
    """Record that ``name`` (a ``kind`` of step) took ``seconds``, if a build collects timings."""
    folder = os.environ.get(TIMINGS_VARIABLE, "").strip()
    if not folder:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", f"{kind}-{name}")[:120]
    path = Path(folder) / f"{safe}.{os.getpid()}.{time.time_ns()}.json"
    content = {"kind": kind, "name": name, "seconds": round(float(seconds), 3), **details}
    return write_atomic(path, json.dumps(content, sort_keys=True) + "\n")


def collect(folder: str | os.PathLike) -> list[dict]:
    """Every record in ``folder``, in the order of ``KINDS`` and then of their names."""
    folder = Path(folder)
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    rank = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(records, key=lambda r: (rank.get(r["kind"], len(KINDS)), r["name"]))


def summary(records: list[dict], wall_seconds: float) -> dict:
    """The content of ``build/timings.json``: the wall time, seconds per kind and per step."""
    by_kind: dict[str, dict[str, float]] = {}
    for entry in records:
        steps = by_kind.setdefault(entry["kind"], {})
        steps[entry["name"]] = round(steps.get(entry["name"], 0.0) + entry["seconds"], 3)
    return {"wall_seconds": round(wall_seconds, 3),
            "seconds": {kind: round(sum(steps.values()), 3) for kind, steps in by_kind.items()},
            "steps": by_kind, "records": records}


def render(content: dict) -> str:
    """The one-screen summary printed at the end of ``make report``."""
    steps, wall = content["steps"], content["wall_seconds"]
    if not steps:
        return f"==> nothing to do: the report is up to date ({wall:.1f} s)"
    lines = [f"==> build times ({wall:.0f} s in all; parts in parallel overlap)"]
    for kind in [*KINDS, *sorted(set(steps) - set(KINDS))]:
        if kind not in steps:
            continue
        items = sorted(steps[kind].items(), key=lambda item: -item[1])
        if kind == "model":
            epochs = sum(r.get("epochs", 0) for r in content["records"] if r["kind"] == "model")
            lines.append(f"   {len(items)} models trained ({epochs} epochs): {sum(v for _, v in items):.0f} s of "
                         f"worker time; longest {items[0][0]} ({items[0][1]:.0f} s)")
            continue
        if kind == "sweep point":
            lines.append(f"   {len(items)} sweep points: {sum(v for _, v in items):.0f} s of worker time; "
                         f"longest {items[0][0]} ({items[0][1]:.0f} s)")
            continue
        for name, seconds in items:
            lines.append(f"   {kind + ' ' + name:52s} {seconds:7.1f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Record and summarize the times of a build.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("record", help="record one step that started at --since")
    add.add_argument("kind", choices=KINDS)
    add.add_argument("name")
    add.add_argument("--since", type=float, required=True, help="the step's start, in seconds since the epoch")
    gather = commands.add_parser("summary", help="gather a build's records, write --out, print a summary")
    gather.add_argument("folder")
    gather.add_argument("--out", required=True)
    gather.add_argument("--started", type=float, required=True, help="the build's start, seconds since the epoch")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.kind, args.name, time.time() - args.since)
        return 0
    content = summary(collect(args.folder), time.time() - args.started)
    if content["steps"]:  # a build that did nothing keeps the timings of the last one that did
        write_atomic(args.out, json.dumps(content, indent=1, sort_keys=True) + "\n")
    for path in Path(args.folder).glob("*.json") if Path(args.folder).is_dir() else []:
        path.unlink()
    if Path(args.folder).is_dir():
        Path(args.folder).rmdir()
    print(render(content))
    return 0


if __name__ == "__main__":
    sys.exit(main())
