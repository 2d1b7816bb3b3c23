"""Run a command while holding an exclusive lock on a file, so that two builds of one checkout
never write the same files at once: the second waits for the first, saying so.

    python -m helpers.lock build/.build.lock -- make _report

The lock is an ``flock`` on the open file; the command replaces this process (exec) and
inherits the open file, so the lock is held exactly as long as the command runs and is
released by the system even if the command is killed.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path


def acquire(path: Path, *, log=lambda message: print(message, file=sys.stderr, flush=True)) -> int:
    """Open ``path`` and take its lock, waiting (with one line saying for whom) if it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        log(f"lock: {holder} is building in this checkout; waiting for it to finish ({path}).")
        fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[sys.argv.index('--') + 1:] if '--' in sys.argv else [])})"
              .encode(), 0)
    return fd


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m helpers.lock LOCKFILE -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    fd = acquire(Path(argv[0]))
    os.set_inheritable(fd, True)
    os.execvp(argv[2], argv[2:])
    return 1  # pragma: no cover - execvp does not return


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
