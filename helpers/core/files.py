"""Where the repository keeps its inputs and outputs, and how files are written: atomically, so
that a file is either the old one or the complete new one, never half-written."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

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


#: A settings file (parameters, a sweep grid, the report's metadata) is small; a larger one is a mistake.
MAX_YAML_BYTES = 1 << 20


class SettingsError(ValueError):
    """A settings file or value that is not what it must be: the message names it and says why."""


class _StrictLoader(yaml.SafeLoader):
    """YAML as a settings file needs it: no aliases (a few hundred bytes of them can expand to
    gigabytes), keys that are names, and each key once (else the last would silently win)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed here",
                                                    self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is not a name",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(text: str, source: str):
    """The YAML in ``text`` (from ``source``, named in errors), read strictly (``_StrictLoader``)."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise SettingsError(f"{source} holds {len(text.encode())} bytes; a settings file holds at most "
                            f"{MAX_YAML_BYTES}.")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader, made stricter
    except yaml.YAMLError as error:
        raise SettingsError(f"{source} is not a settings file we can read: {error}") from None


def read_yaml_file(path: str | os.PathLike):
    """``read_yaml`` of a file, or a SettingsError naming it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise SettingsError(f"{path} has {path.stat().st_size} bytes; a settings file has at most "
                                f"{MAX_YAML_BYTES}.")
        return read_yaml(path.read_text(), str(path))
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror or error}.") from None
