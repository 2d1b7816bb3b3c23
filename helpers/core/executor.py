"""Where independent runs go: one ``concurrent.futures`` executor for trainings and papermill runs.

By default a local process pool sized to the machine (nothing to start, nothing to configure).
With a scheduler address, the same runs go to a Dask distributed cluster instead:

    python -m helpers.pipeline.sweep GRID OUT --scheduler tcp://10.0.0.5:8786
    MLCMS_SCHEDULER=tcp://10.0.0.5:8786 make report

The workers of a cluster must see this checkout (to import ``helpers`` and run the notebooks) and
the model cache at the same paths, as on one machine or a shared file system.

``MLCMS_WORKERS`` sets the size of the local pool; ``MLCMS_WORKERS=1`` runs everything in the
calling process, one run after another. Each local worker gets an equal share of the cores as
threads (``thread_settings``, set before it imports a numerical library), unless the caller asks
for more: small networks, such as the sweep's, train faster as several one-threaded processes
than as one process with several threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

#: Environment variables read by this module.
SCHEDULER_VARIABLE = "MLCMS_SCHEDULER"
WORKERS_VARIABLE = "MLCMS_WORKERS"


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_workers() -> int:
    """The size of the local pool: ``MLCMS_WORKERS`` if set, else one worker per core."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not value:
        return cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_VARIABLE} must be a positive integer, got {value!r}; unset it to use one "
                         "worker per core.")
    return int(value)


def thread_settings(threads: int) -> dict[str, str]:
    """Environment variables that hold TensorFlow and BLAS libraries to ``threads`` threads each.

    They take effect in a process that has not imported those libraries yet. TensorFlow's results
    do not depend on them (tests/core/test_executor.py trains a model both ways), so a model trained in
    a pool has the weights it has when trained alone. (XLA's ``--xla_cpu_multi_thread_eigen=false``
    would change the weights in the last bit, and is not used.)
    """
    threads = str(max(1, int(threads)))
    return {name: threads for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                                       "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _start_worker(settings: dict[str, str]) -> None:
    os.environ.update(settings)


class InlineExecutor(cf.Executor):
    """Runs each submitted call at once, in the calling process (``MLCMS_WORKERS=1``)."""

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(error)
        return future


@contextlib.contextmanager
def executor(scheduler: str | None = None, *, max_workers: int | None = None, threads: int | None = None,
             timeout: float = 30.0) -> Iterator[cf.Executor]:
    """The executor for independent runs: Dask at ``scheduler`` (or ``MLCMS_SCHEDULER``), else a
    local pool of ``max_workers`` processes (default ``local_workers()``), each started fresh
    ("spawn") with ``threads`` threads (default: its share of the cores). ``timeout``: seconds to
    wait for the scheduler."""
    scheduler = scheduler or os.environ.get(SCHEDULER_VARIABLE, "").strip() or None
    if scheduler:
        try:
            from distributed import Client
        except ImportError as error:
            raise RuntimeError(f"a Dask scheduler was given ({scheduler}) but the 'distributed' package is not "
                               "installed; `pip install distributed`, or unset MLCMS_SCHEDULER.") from error
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as error:
            raise RuntimeError(f"no Dask scheduler answered at {scheduler}: {error}. Start one (`dask scheduler`, "
                               "then `dask worker ADDRESS` on each machine), or unset MLCMS_SCHEDULER to run "
                               "on this machine.") from error
        with client:
            yield client.get_executor(pure=False)
        return
    workers = local_workers() if max_workers is None else max(1, int(max_workers))
    if workers == 1:
        yield InlineExecutor()
        return
    settings = thread_settings(threads or max(1, cores() // workers))
    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_start_worker, initargs=(settings,)) as pool:
        yield pool


@dataclass(frozen=True)
class Failure:
    """A run that raised: its label, the error in one line, and the traceback."""

    label: str
    error: str
    traceback: str


def run_all(fn: Callable, jobs: Mapping[str, tuple], *, pool: cf.Executor | None = None,
            log: Callable[[str], None] | None = None, **settings) -> dict[str, object]:
    """Run ``fn(*args)`` for every ``label: args`` of ``jobs`` on ``pool`` (default: ``executor(**settings)``)
    and return ``{label: result}`` in the jobs' order; a run that raised gives a ``Failure`` in its
    place while the others finish. ``log`` hears of each run as it ends."""
    if pool is None:
        with executor(**settings) as pool:
            return run_all(fn, jobs, pool=pool, log=log)
    futures = {pool.submit(fn, *args): label for label, args in jobs.items()}
    outcomes: dict[str, object] = {}
    for future in cf.as_completed(futures):
        label = futures[future]
        try:
            outcomes[label] = future.result()
        except Exception as error:  # noqa: BLE001 - reported with its label; the other runs go on
            text = "".join(traceback.format_exception(error))
            outcomes[label] = Failure(label, _one_line(error), text)
            if log:
                log(f"{label} failed: {outcomes[label].error}")
        else:
            if log:
                log(f"{label} done")
    return {label: outcomes[label] for label in jobs}


def _one_line(error: BaseException) -> str:
    """``Type: message`` of an error; for a failed notebook (papermill), of the error in its cell."""
    name, message = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{name}: {message}" if name else f"{type(error).__name__}: {error}"
    return next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)


def failures(outcomes: Mapping[str, object]) -> list[Failure]:
    return [outcome for outcome in outcomes.values() if isinstance(outcome, Failure)]
