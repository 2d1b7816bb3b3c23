"""Where each part of the report comes from: the public link to the source at a commit, the
notebook cell and helper function behind each figure and table, and the parameters a section
ran with. Everything here returns data; report/templates/section turns it into LaTeX.

Nothing private reaches the PDF: a remote's credentials are dropped, and only https and ssh
remotes are shown (as https links); anything else (a path, a file:// URL) is "a local checkout".
"""

from __future__ import annotations

import ast
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path

from helpers.core.files import ROOT
from helpers.notebook.parameters import LOCATION_PARAMETERS, declared_defaults

from .deps import dotted_name, imported_from, module_file

#: Helpers that only display or record (publish, say, show_table, fmt, ...), not compute.
PLUMBING = ("helpers.notebook.",)
#: At most this many helpers are named under a figure or table; the rest are counted.
SHOWN_HELPERS = 3

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+\.[\w.-]+):(?P<path>(?!/)[\w./~-]+)$")


def public_url(remote: str | None) -> str | None:
    """The https address of a repository remote, without credentials, query or ``.git``; None for
    anything that is not an https or ssh remote (a local path, file://, http://, ...)."""
    remote = (remote or "").strip()
    if not remote:
        return None
    match = _SCP_LIKE.match(remote)
    if match:  # git@github.com:owner/name.git
        host, path = match["host"], match["path"]
    else:
        parts = urllib.parse.urlsplit(remote)
        if parts.scheme not in ("https", "ssh", "git+ssh", "ssh+git") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path.lstrip("/")
        if parts.scheme == "https" and parts.port not in (None, 443):
            host = f"{host}:{parts.port}"
    path = path.removesuffix("/").removesuffix(".git").removesuffix("/")
    if not path or not re.fullmatch(r"[\w.~/-]+", path) or not re.fullmatch(r"[\w.:-]+", host):
        return None
    return f"https://{host}/{path}"


class Links:
    """Links into the repository at a commit, or plain names when there is no public remote."""

    def __init__(self, base: str | None, commit: str | None):
        self.base = base if base and commit else None
        self.commit = commit

    def to(self, path: str, text: str, line: int | None = None) -> dict:
        """``{"text", "url"}`` of a repository file (its ``line``), the url None without a remote."""
        if self.base is None:
            return {"text": text, "url": None}
        anchor = f"#L{line}" if line else ""
        return {"text": text, "url": f"{self.base}/blob/{self.commit}/{urllib.parse.quote(path)}{anchor}"}


# --------------------------------------------------------------------------- helpers called by a cell


def helper_imports(code_cells: Iterable[str]) -> dict[str, str]:
    """From a notebook's import statements, ``{name: "helpers.x.y"}`` for each module, function and
    class it imports from helpers."""
    names = {}
    for source in code_cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                names.update({a.asname: a.name for a in node.names if a.name.startswith("helpers.") and a.asname})
    return names


def called_helpers(source: str, names: Mapping[str, str]) -> list[str]:
    """The helper functions a cell calls (``f(...)`` or ``module.f(...)``), in the order they appear,
    without display plumbing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Call)),
                   key=lambda node: (node.lineno, node.col_offset))
    found = []
    for call in calls:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
            dotted = f"{names[func.value.id]}.{func.attr}"
        elif isinstance(func, ast.Name) and func.id in names:
            dotted = names[func.id]
        else:
            continue
        if not dotted.startswith(PLUMBING) and dotted not in found:
            found.append(dotted)
    return found


def locate(dotted: str) -> tuple[str, int | None]:
    """The repository file and first line of a helper function or class ``helpers.x.y.name``, read from
    the sources (nothing is imported); a name that a package imports from a module is followed there."""
    module, _, name = dotted.rpartition(".")
    while (file := module_file(module)) is not None:
        tree = ast.parse(file.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
                return file.relative_to(ROOT).as_posix(), node.lineno
        origins = [imported_from(node, dotted_name(file)) for node in tree.body if isinstance(node, ast.ImportFrom)
                   and any((alias.asname or alias.name) == name for alias in node.names)]
        if not origins:
            break
        module = origins[0]
    return f"{dotted.rpartition('.')[0].replace('.', '/')}.py", None


def source_note(notebook: str, cell_id: str | None, helpers: list[str], links: Links,
                made_by: Mapping | None = None) -> dict:
    """What made a figure or table: the notebook's cell, and the helpers (the plotting function
    that drew a figure first), each a link when there is a remote; for the section template."""
    shown = []
    if made_by and made_by.get("function", "").startswith("helpers."):
        shown.append(links.to(made_by["file"], made_by["function"].removeprefix("helpers."), made_by.get("line")))
    for dotted in helpers:
        if made_by and dotted == made_by.get("function"):
            continue
        file, line = locate(dotted)
        shown.append(links.to(file, dotted.removeprefix("helpers."), line))
    return {"cell": cell_id or "?", "notebook": links.to(f"notebooks/{notebook}", f"notebooks/{notebook}"),
            "helpers": shown[:SHOWN_HELPERS], "more": max(0, len(shown) - SHOWN_HELPERS)}


# --------------------------------------------------------------------------- parameters of a section


def value_text(value) -> str:
    """A parameter value as the notebook's parameters cell writes it (Python literals)."""
    if isinstance(value, str):
        return f'"{value}"'
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def run_parameters(notebook: Mapping) -> list[tuple[str, object, object]]:
    """``(name, value, default)`` for each parameter of an executed notebook, in the parameters
    cell's order: the defaults of that cell, overridden by the values papermill injected."""
    defaults = declared_defaults(dict(notebook))
    injected = (notebook.get("metadata", {}).get("papermill", {}) or {}).get("parameters", {}) or {}
    return [(name, injected.get(name, default), default) for name, default in defaults.items()
            if name not in LOCATION_PARAMETERS]


def parameters_table(rows: list[tuple[str, object, object]], links: Links, notebook: str) -> dict:
    """A section's parameters for the section template: name, value and default as the notebook's
    parameters cell writes them, whether the value differs from the default, the notebook's link, and
    the table's label."""
    shown = [{"name": name, "value": value_text(value), "default": value_text(default), "changed": value != default}
             for name, value, default in rows]
    return {"rows": shown, "changed": sum(row["changed"] for row in shown),
            "notebook": links.to(f"notebooks/{notebook}", f"notebooks/{notebook}"),
            "label": f"tab:{Path(notebook).stem}:parameters"}
