"""The one cache of expensive results (trained models): a folder per key, written atomically.

An entry is written into a temporary sibling folder and renamed into place when complete, so
a reader sees a whole entry or none. Its last file, ``complete``, lists the SHA-256 of every other
file; an entry whose files differ from that list (edited, truncated, added or removed by hand) or
that cannot be read is a miss: it is removed, one line says so, and the caller recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from .files import current_umask

T = TypeVar("T")

#: The manifest written last into a complete entry: ``{"files": {name: sha256}}``.
COMPLETE = "complete"


class BrokenEntry(ValueError):
    """A cache entry's files are not the ones its manifest lists."""


def _file_digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != COMPLETE}


def _check_manifest(folder: Path) -> None:
    try:
        listed = json.loads((folder / COMPLETE).read_text())["files"]
    except (ValueError, KeyError, TypeError):
        raise BrokenEntry("its manifest is missing or of an older version") from None
    found = _file_digests(folder)
    changed = sorted(name for name in set(listed) | set(found) if listed.get(name) != found.get(name))
    if changed:
        raise BrokenEntry(f"{', '.join(changed)} differ from what was written")


def digest(*parts, length: int = 20) -> str:
    """A hex key over ``parts``: arrays by dtype, shape and bytes; files by content; the rest as JSON."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            hasher.update(f"array {part.dtype.str} {part.shape}".encode())
            hasher.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, Path):
            hasher.update(f"file {part.name}".encode())
            hasher.update(part.read_bytes())
        elif isinstance(part, bytes):
            hasher.update(b"bytes")
            hasher.update(part)
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()[:length]


def _say(message: str) -> None:
    print(message, file=sys.stderr)


class FolderCache:
    """Entries ``<root>/<prefix>-<key>/`` holding whatever files a writer puts there.

    ``root=None`` disables the cache: ``load`` always misses and ``store`` writes nothing.
    """

    def __init__(self, root: str | os.PathLike | None, prefix: str, *, log: Callable[[str], None] = _say):
        self.root = None if root is None else Path(root)
        self.prefix, self.log = prefix, log

    def folder(self, key: str) -> Path | None:
        return None if self.root is None else self.root / f"{self.prefix}-{key}"

    def load(self, key: str, reader: Callable[[Path], T]) -> T | None:
        """``reader(folder)`` for a complete entry, else None; a broken entry is removed."""
        folder = self.folder(key)
        if folder is None or not (folder / COMPLETE).is_file():
            return None
        try:
            _check_manifest(folder)
            return reader(folder)
        except Exception as error:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
            self.log(f"cache: {folder} could not be read ({type(error).__name__}: {error}); recomputing it.")
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def store(self, key: str, writer: Callable[[Path], None]) -> Path | None:
        """Let ``writer(folder)`` fill a temporary folder, then move it into place as the entry. An entry
        that cannot be written (a full disk, a read-only folder) is a warning, not a failure: the
        result is used all the same, and computed again next time; None then."""
        folder = self.folder(key)
        if folder is None:
            return None
        tmp = None
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
            writer(tmp)
            (tmp / COMPLETE).write_text(json.dumps({"files": _file_digests(tmp)}, indent=1, sort_keys=True) + "\n")
            _apply_umask(tmp)
            shutil.rmtree(folder, ignore_errors=True)  # a broken or older entry of the same key
            try:
                os.replace(tmp, folder)
            except OSError:
                if not (folder / COMPLETE).is_file():  # another process wrote the entry meanwhile: keep it
                    raise
        except OSError as error:
            self.log(f"cache: could not keep {folder.name} in {folder.parent} ({error.strerror or error}); it is "
                     "used now and computed again next time.")
            return None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        return folder


def _apply_umask(folder: Path) -> None:
    """mkdtemp creates 0700; give the entry the permissions a plain mkdir would."""
    umask = current_umask()
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
