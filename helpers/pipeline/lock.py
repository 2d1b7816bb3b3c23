"""Run a command while holding an exclusive lock on a file (filelock), so that two builds of one
checkout never write the same files at once: the second waits for the first, saying so.

    python -m helpers.pipeline.lock build/.build.lock -- make _report

The command runs as a child; SIGTERM, SIGINT and SIGHUP sent to this process are passed on to it,
and the lock is released when it ends (by the system, should this process be killed).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from filelock import FileLock, Timeout


def run_locked(path: Path, command: list[str], *, log=lambda line: print(line, file=sys.stderr, flush=True)) -> int:
    """Run ``command`` holding the lock ``path``, waiting (with one line saying so) if it is held."""
    lock = FileLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log(f"lock: a build of this checkout holds {path}; waiting for it to finish.")
            lock.acquire()
    except OSError as error:
        log(f"error: cannot take the build lock {path} ({error.strerror or error}): a build writes build/, "
            "figures/, results/ and report/build/, so the checkout must be writable.")
        return 1
    try:
        child = subprocess.Popen(command)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda number, _frame: child.send_signal(number))
        return child.wait()
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m helpers.pipeline.lock LOCKFILE -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    return run_locked(Path(argv[0]), argv[2:])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
