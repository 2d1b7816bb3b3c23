"""Where each part of the report comes from: the public link to the source at a commit, the
notebook cell and helper function behind each figure and table, and the parameters a section
ran with. Everything here returns LaTeX, escaped, for helpers/report.py.

Nothing private reaches the PDF: a remote's credentials are dropped, and only https and ssh
remotes are shown (as https links); anything else (a path, a file:// URL) is "a local checkout".
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping

from .notebook import LOCATION_PARAMETERS, latex_escape
from .parameters_cell import declared_defaults

#: Helper modules that only display or record (publish, say, show_table, fmt, ...), not compute.
PLUMBING = ("helpers.notebook", "helpers.figures", "helpers.paths")

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


def _href(url: str, text: str) -> str:
    """A link whose address survives LaTeX inside a caption."""
    safe = url.replace("\\", "/").replace("#", r"\#").replace("%", r"\%")
    return rf"\href{{{safe}}}{{{text}}}"


class Links:
    """Links into the repository at a commit, or plain names when there is no public remote."""

    def __init__(self, base: str | None, commit: str | None):
        self.base = base if base and commit else None
        self.commit = commit

    def to(self, path: str, text: str, line: int | None = None) -> str:
        label = rf"\texttt{{{latex_escape(text, math=False)}}}"
        if self.base is None:
            return label
        anchor = f"#L{line}" if line else ""
        return _href(f"{self.base}/blob/{self.commit}/{urllib.parse.quote(path)}{anchor}", label)


# --------------------------------------------------------------------------- helpers called by a cell


def helper_imports(code_cells: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """From a notebook's import statements: ``{alias: "helpers.x"}`` for modules and
    ``{name: "helpers.x.name"}`` for functions and classes imported by name."""
    modules, names = {}, {}
    for source in code_cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "helpers":
                modules.update({a.asname or a.name: f"helpers.{a.name}" for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers."):
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                modules.update({a.asname: a.name for a in node.names if a.name.startswith("helpers.") and a.asname})
    return modules, names


def called_helpers(source: str, modules: Mapping[str, str], names: Mapping[str, str]) -> list[str]:
    """The helper functions a cell calls, in the order they appear, without display plumbing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Call)),
                   key=lambda node: (node.lineno, node.col_offset))
    found = []
    for call in calls:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
            dotted = f"{modules[func.value.id]}.{func.attr}"
        elif isinstance(func, ast.Name) and func.id in names:
            dotted = names[func.id]
        else:
            continue
        if not dotted.startswith(PLUMBING) and dotted not in found:
            found.append(dotted)
    return found


def locate(dotted: str) -> tuple[str, int | None]:
    """The repository file and first line of a helper function or class ``helpers.x.name``."""
    module_name, _, attribute = dotted.rpartition(".")
    file = f"{module_name.replace('.', '/')}.py"
    try:
        target = getattr(importlib.import_module(module_name), attribute)
        return file, inspect.getsourcelines(target)[1]
    except (ImportError, AttributeError, OSError, TypeError):
        return file, None


def source_note(notebook: str, cell_id: str | None, helpers: list[str], links: Links,
                made_by: Mapping | None = None) -> str:
    """'Made by cell c of notebook n with helpers h' as LaTeX, with links when there is a remote."""
    parts = [rf"Made by cell \texttt{{{latex_escape(cell_id or '?', math=False)}}} of "
             + links.to(f"notebooks/{notebook}", f"notebooks/{notebook}")]
    shown = []
    if made_by and made_by.get("function", "").startswith("helpers."):
        shown.append(links.to(made_by["file"], made_by["function"].removeprefix("helpers."), made_by.get("line")))
    for dotted in helpers:
        if made_by and dotted == made_by.get("function"):
            continue
        file, line = locate(dotted)
        shown.append(links.to(file, dotted.removeprefix("helpers."), line))
    if shown:
        extra = len(shown) - 3
        listed = ", ".join(shown[:3]) + (f" and {extra} more" if extra > 0 else "")
        parts.append(f"with {listed}")
    return r" {\footnotesize\color{black!60}(" + " ".join(parts) + ".)}"


# --------------------------------------------------------------------------- parameters of a section


def _value_text(value) -> str:
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


def parameters_table(task: str, rows: list[tuple[str, object, object]], links: Links, notebook: str) -> str:
    """A LaTeX table of a section's parameters, two per line; values that differ from the notebook's
    defaults are bold, with the default beside them."""
    cells = []
    for name, value, default in rows:
        text = latex_escape(_value_text(value), math=False)
        if value != default:
            text = rf"\textbf{{{text}}} (default {latex_escape(_value_text(default), math=False)})"
        cells.append((rf"\texttt{{{latex_escape(name, math=False)}}}", text))
    half = (len(cells) + 1) // 2
    left, right = cells[:half], cells[half:] + [("", "")] * (2 * half - len(cells))
    body = "\n".join(f"{a} & {b} & {c} & {d} \\\\" for (a, b), (c, d) in zip(left, right, strict=True))
    changed = sum(value != default for _, value, default in rows)
    summary = (f"the {changed} in bold differ from the notebook's defaults" if changed
               else "all are the notebook's defaults")
    return "\n".join([
        r"\begin{table}[!htbp]", r"\centering", r"\footnotesize",
        rf"\caption{{The parameters this section ran with ({summary}), from "
        + links.to(f"notebooks/{notebook}", f"notebooks/{notebook}")
        + r"'s parameters cell and the values papermill passed. None leaves a value to the notebook "
        r"(in Task 4: the configuration the sweep chose).}",
        rf"\label{{tab:{task}:parameters}}",
        r"\begin{tabular}{@{}ll@{\hspace{2em}}ll@{}}", r"\toprule", body, r"\bottomrule", r"\end{tabular}",
        r"\end{table}",
    ])
