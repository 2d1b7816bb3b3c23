"""The versions of installed packages, for the report's software table and the model cache's keys."""

from __future__ import annotations

import platform
from importlib import metadata


def installed(names) -> dict[str, str]:
    """``{name: version}`` of the distributions among ``names`` that are installed, in that order."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def python() -> str:
    return platform.python_version()
