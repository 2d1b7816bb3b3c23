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

An interrupt of the caller (Ctrl-C, JupyterLab's Stop, SIGTERM where the caller turns it into one)
reaches the local workers too: they stop their runs, those that have not within a few seconds are
terminated, and the queued runs are cancelled.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

#: Environment variables read by this module.
SCHEDULER_VARIABLE = "MLCMS_SCHEDULER"
WORKERS_VARIABLE = "MLCMS_WORKERS"


#: Dask's transports, and an address of one: scheme://host:port.
_SCHEDULER = re.compile(r"(tcp|tls|ws|wss|ucx)://(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})")


def scheduler_problem(address: str) -> str | None:
    """What is wrong with a Dask scheduler's address, or None when it is one."""
    match = _SCHEDULER.fullmatch(address)
    if match and 0 < int(match["port"]) < 65536:
        return None
    return (f"{address!r} is not a Dask scheduler's address: it is tcp://HOST:PORT (or tls://, ws://, wss://, ucx://), "
            "as `dask scheduler` prints it")


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


#: Whether this process is running a job of ``run_all`` (set in pool workers around each job).
_in_job = False


def _start_worker(settings: dict[str, str]) -> None:
    """A worker's set-up: its thread settings, and what SIGINT does. During a job it is Ctrl-C's
    KeyboardInterrupt, so that the run cleans up (a papermill run shuts its kernel down); between
    jobs, or while a job's code is imported, the worker has nothing to clean up and ends quietly
    (an interrupt there printed a traceback of the import per worker). A process started in the
    background (``cmd &`` in a script, nohup) inherits SIGINT ignored, and Python then leaves it
    ignored; the worker would miss the SIGINT with which ``_stop_workers`` lets its run clean up."""
    os.environ.update(settings)
    signal.signal(signal.SIGINT, _interrupt_worker)


def _interrupt_worker(signum, frame) -> None:
    if _in_job:
        raise KeyboardInterrupt
    os._exit(128 + signal.SIGINT)


def _run_job(fn: Callable, *args):
    """``fn(*args)``, marked as a job (see ``_start_worker``)."""
    global _in_job
    _in_job = True
    try:
        return fn(*args)
    finally:
        _in_job = False


class Interrupted(KeyboardInterrupt):
    """Runs were stopped by an interrupt; the message says which. In a notebook it shows as this
    message alone, without the frames of the pool's threads."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


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
    if scheduler and scheduler_problem(scheduler):
        raise ValueError(f"{scheduler_problem(scheduler)}; unset {SCHEDULER_VARIABLE} to run on this machine.")
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
    others = set(multiprocessing.active_children())  # child processes that are not this pool's
    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_start_worker, initargs=(settings,)) as pool:
        try:
            yield pool
        except BaseException:
            _stop_workers(pool, [child for child in multiprocessing.active_children() if child not in others])
            raise


def _stop_workers(pool: cf.ProcessPoolExecutor, workers, grace: float = 10.0) -> None:
    """Cancel the queued runs and interrupt the running ones: each worker gets SIGINT, as a process
    at a terminal gets Ctrl-C, so that its run cleans up (a papermill run shuts its kernel down);
    one that has not ended after ``grace`` seconds is terminated."""
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.terminate()
            worker.join()


@dataclass(frozen=True)
class Failure:
    """A run that raised: its label, the error in one line, and the traceback."""

    label: str
    error: str
    traceback: str


def run_all(fn: Callable, jobs: Mapping[str, tuple], *, pool: cf.Executor | None = None,
            log: Callable[[str], None] | None = None, watch: Callable[[], None] | None = None,
            **settings) -> dict[str, object]:
    """Run ``fn(*args)`` for every ``label: args`` of ``jobs`` on ``pool`` (default: ``executor(**settings)``)
    and return ``{label: result}`` in the jobs' order; a run that raised gives a ``Failure`` in its
    place while the others finish. ``log`` hears of each run as it ends; ``watch`` is called every
    few seconds while runs are under way (to show their progress)."""
    if pool is None:
        with executor(**settings) as pool:
            return run_all(fn, jobs, pool=pool, log=log, watch=watch)
    futures = {pool.submit(_run_job, fn, *args): label for label, args in jobs.items()}
    outcomes: dict[str, object] = {}
    try:
        _collect(futures, outcomes, log, watch)
    except KeyboardInterrupt:
        # Every run without an outcome was stopped: queued, running, or interrupted in its worker (a
        # terminal's Ctrl-C and JupyterLab's Stop reach the workers too, and their runs end first).
        stopped = [label for label in jobs if label not in outcomes]
        message = (f"interrupted: stopping {len(stopped)} of {len(jobs)} runs ({', '.join(stopped)}); "
                   f"{len(outcomes)} had finished.")
        if not _in_notebook():  # a notebook shows the error's message itself
            print(message, file=sys.stderr, flush=True)
        raise Interrupted(message) from None
    return {label: outcomes[label] for label in jobs}


def _collect(futures: Mapping[cf.Future, str], outcomes: dict, log: Callable[[str], None] | None,
             watch: Callable[[], None] | None, every: float = 2.0) -> None:
    """Each run's result, or a Failure, into ``outcomes`` as the runs end; ``watch()`` every ``every`` s."""
    pending = set(futures)
    while pending:
        done, pending = cf.wait(pending, timeout=every if watch else None, return_when=cf.FIRST_COMPLETED)
        for future in done:
            _record(future, futures[future], outcomes, log)
        if watch:
            watch()


def _record(future: cf.Future, label: str, outcomes: dict, log: Callable[[str], None] | None) -> None:
    """A finished run's result, or its Failure, into ``outcomes``."""
    try:
        outcomes[label] = future.result()
    except KeyboardInterrupt:
        raise Interrupted(f"{label} was interrupted in its worker") from None
    except Exception as error:  # noqa: BLE001 - reported with its label; the other runs go on
        text = "".join(traceback.format_exception(error))
        outcomes[label] = Failure(label, _one_line(error), text)
        if log:
            log(f"{label} failed: {outcomes[label].error}")
    else:
        if log:
            log(f"{label} done")


def _one_line(error: BaseException) -> str:
    """``Type: message`` of an error; for a failed notebook (papermill), of the error in its cell."""
    name, message = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{name}: {message}" if name else f"{type(error).__name__}: {error}"
    return next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)


def failures(outcomes: Mapping[str, object]) -> list[Failure]:
    return [outcome for outcome in outcomes.values() if isinstance(outcome, Failure)]


class Board:
    """A few lines that say how far each of several runs is (``update(label, text)``), redrawn in
    place: in a notebook as one output that changes, elsewhere (a terminal, make) as the lines on
    stderr when they changed, at most every ``every`` seconds. ``close()`` shows the last state."""

    def __init__(self, title: str, labels, *, every: float = 60.0, waiting: str = "waiting"):
        self.title, self.lines = title, {label: waiting for label in labels}
        self.every, self.shown_at, self.shown = every, 0.0, None
        self.handle = _notebook_display(self.text())

    def text(self) -> str:
        width = max(map(len, self.lines), default=0)
        return "\n".join([self.title, *(f"  {label:{width}s}  {line}" for label, line in self.lines.items())])

    def update(self, label: str, line: str) -> None:
        self.lines[label] = line

    def show(self, *, force: bool = False) -> None:
        text = self.text()
        if self.handle is not None:
            self.handle.update({"text/plain": text}, raw=True)
        elif text != self.shown and (force or time.monotonic() - self.shown_at >= self.every):
            print(text, file=sys.stderr, flush=True)
            self.shown, self.shown_at = text, time.monotonic()

    def close(self) -> None:
        self.show(force=True)


def _in_notebook() -> bool:
    """Whether this code runs in a notebook's kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None and hasattr(get_ipython(), "kernel")


def _notebook_display(text: str):
    """A display handle in a running notebook, showing ``text``; None elsewhere."""
    if not _in_notebook():
        return None
    from IPython.display import display

    return display({"text/plain": text}, raw=True, display_id=True)
