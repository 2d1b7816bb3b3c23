"""The environment variables a build reads, checked when it starts, so that a wrong one stops it
at once with what is allowed instead of failing in a library after the notebooks ran.

    python -m helpers.pipeline.settings      (make report, notebooks and sweep run it first)
"""

from __future__ import annotations

import importlib.util
import os
import sys

from helpers.core.data import DataError, search_dirs
from helpers.core.executor import SCHEDULER_VARIABLE, local_workers, scheduler_problem

BACKENDS = ("tensorflow", "jax", "torch")
#: The report's date comes from SOURCE_DATE_EPOCH: seconds from 1970 to the last second of year 9999,
#: the range of Python's dates (a value in milliseconds is far beyond it).
LAST_EPOCH = 253_402_300_799


def problems(environment=os.environ) -> list[str]:
    """What is wrong with the build's environment variables, one sentence each."""
    found = []
    scheduler = environment.get(SCHEDULER_VARIABLE, "").strip()
    if scheduler and scheduler_problem(scheduler):
        found.append(f"{SCHEDULER_VARIABLE}: {scheduler_problem(scheduler)}; unset it to run on this machine.")
    try:
        local_workers()
    except ValueError as error:
        found.append(str(error))
    epoch = environment.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch and not (epoch.isdigit() and int(epoch) <= LAST_EPOCH):
        found.append(f"SOURCE_DATE_EPOCH={epoch!r} must be a number of seconds since 1970 (the report's date), "
                     f"from 0 to {LAST_EPOCH} (the end of year 9999; a time in milliseconds is 1000 times too "
                     "large); unset it to take the last commit's.")
    backend = environment.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKENDS:
        found.append(f"KERAS_BACKEND={backend!r} must be one of {', '.join(BACKENDS)}.")
    elif importlib.util.find_spec(backend) is None:
        found.append(f"KERAS_BACKEND={backend!r}, but {backend} is not installed in this environment; install it "
                     f"(`{sys.executable} -m pip install {backend}`) or choose another backend.")
    try:
        search_dirs(environment)
    except DataError as error:
        found.append(str(error))
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
