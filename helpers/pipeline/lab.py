"""What ``make lab`` adds to JupyterLab: after each save, a notebook whose committed form did not change
shows as unchanged in ``git status``.

Git stores notebooks as its clean filter (nbstripout, ``.gitattributes``) leaves them, without the
outputs, counts and language_info a run in Lab adds. But ``git status`` takes a file whose size differs
from the size its index recorded as modified without running the filter, so a notebook saved with
outputs showed as modified although ``git diff`` was empty. When the filtered file is the blob the
index holds, ``git update-index`` records the file's new size and time; it stages nothing. A real edit
(another blob) is left alone and shows as modified, as it should.

    jupyter lab --ContentsManager.post_save_hook=helpers.pipeline.lab.post_save

The filter runs in a thread of its own, so that a save does not wait for it.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path


def _git(folder: Path, *args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def refresh_git(os_path: str, **_) -> bool:
    """Refresh git's record of the notebook at ``os_path`` if its filtered content is the indexed one.
    Returns whether it did; never raises."""
    path = Path(os_path).resolve()
    if path.suffix != ".ipynb" or not path.is_file():
        return False
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if not top:
        return False
    name = path.relative_to(Path(top).resolve()).as_posix()
    indexed = _git(Path(top), "rev-parse", "--verify", "--quiet", f":{name}")
    saved = _git(Path(top), "hash-object", f"--path={name}", "--", name)  # through the clean filter
    if not indexed or indexed != saved:
        return False
    return _git(Path(top), "update-index", "-q", "--", name) is not None


def post_save(os_path: str, **_) -> threading.Thread:
    """Jupyter's post-save hook: ``refresh_git`` in a thread, so that the save returns at once."""
    thread = threading.Thread(target=refresh_git, args=(os_path,), name="refresh-git", daemon=True)
    thread.start()
    return thread
