"""A notebook's parameters cell, read from the file: the names it declares and their defaults.

This lets a runner refuse a misspelled parameter before a kernel starts, and the report show
which values differ from the notebook's defaults.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path

from .notebook import ParameterError, unknown_parameter_message


def parameters_source(notebook: dict) -> str:
    """The source of the cell tagged ``parameters`` of a notebook (as nbformat's JSON dict)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell["source"]
            return source if isinstance(source, str) else "".join(source)
    raise ParameterError("the notebook has no cell tagged 'parameters'; tag the cell that declares them.")


def declared_defaults(notebook: dict | str | Path) -> dict:
    """``{name: default}`` of the parameters cell, in its order (a default that is not a literal is None)."""
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text())
    defaults = {}
    for node in ast.parse(parameters_source(notebook)).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = [t for t in node.targets if isinstance(t, ast.Name)], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value) if value is not None else None
        except ValueError:
            literal = None
        for target in targets:
            defaults[target.id] = literal
    return defaults


def check_names(notebook: dict | str | Path, given: Mapping, where: str = "") -> None:
    """Raise ParameterError if ``given`` names a parameter the notebook does not declare."""
    declared = list(declared_defaults(notebook))
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise ParameterError(unknown_parameter_message(unknown, declared, where))
