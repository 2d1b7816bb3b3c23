"""Where the repository keeps its inputs and outputs, and how files are written: atomically, so
that a file is either the old one or the complete new one, never half-written."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The repository root (the helpers package is installed in editable mode).
ROOT = Path(__file__).resolve().parents[2]

#: Downloaded data sets land here (ignored by git).
DATA_DIR = ROOT / "data"


def output_root(output_dir: str | os.PathLike = ".") -> Path:
    """Resolve a notebook's `output_dir` parameter: relative paths are taken from the repo root."""
    path = Path(output_dir).expanduser()
    return path if path.is_absolute() else (ROOT / path).resolve()


def figures_dir(task: str, output_dir: str | os.PathLike = ".") -> Path:
    """Folder for one task's figures, e.g. ``figures/task1_pca``."""
    return output_root(output_dir) / "figures" / task


def result_file(name: str, output_dir: str | os.PathLike = ".") -> Path:
    """A file of results, e.g. ``results/task1_pca.json`` or ``results/task4_initial_positions.csv``."""
    return output_root(output_dir) / "results" / name


@contextlib.contextmanager
def atomic_path(target: os.PathLike | str) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:  # mkstemp creates 0600; give the file the permissions a plain open() would
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def write_atomic(target: os.PathLike | str, content: bytes | str) -> Path:
    """Write ``content`` to ``target`` atomically; returns the path."""
    with atomic_path(target) as tmp:
        if isinstance(content, str):
            tmp.write_text(content)
        else:
            tmp.write_bytes(content)
    return Path(target)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (as sent by make, CI or ``kill``) unwinds like Ctrl-C, so that the
    clean-up of partial files runs. Outside the main thread, signals are left alone."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
