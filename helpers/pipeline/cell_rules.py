"""The rules a task notebook's code cells follow: narrative plus calls, no algorithm.

A code cell imports, calls helpers, compares and combines their results and formats them as
sentences and tables. It does not define functions or classes, write lambdas, loop until a
condition, or update a value in place; a ``for`` statement only shows things (its body is calls).
The parameters cell holds only ``name: type = literal`` lines (and the typing import they need).

    python -m helpers.pipeline.cell_rules notebooks/*.ipynb notebooks/sweeps/*.ipynb
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

_FORBIDDEN = {
    ast.FunctionDef: "defines a function (put it in helpers/)",
    ast.AsyncFunctionDef: "defines a function (put it in helpers/)",
    ast.ClassDef: "defines a class (put it in helpers/)",
    ast.Lambda: "writes a lambda (put the logic in helpers/)",
    ast.While: "loops until a condition (an algorithm: put it in helpers/)",
    ast.AugAssign: "updates a value in place (an algorithm: compute it in a helper)",
}


def code_problems(source: str) -> list[str]:
    """What in one code cell breaks the rules, as "line N: ..." messages."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", "?")
        problems += [f"line {line}: {message}" for kind, message in _FORBIDDEN.items() if isinstance(node, kind)]
        if isinstance(node, ast.For) and not all(isinstance(statement, ast.Expr) for statement in node.body):
            problems.append(f"line {line}: a loop that computes (a for loop may only show things: put it in helpers/)")
    return problems


def parameter_problems(source: str) -> list[str]:
    """What in the parameters cell is not a ``name: type = literal`` line."""
    problems = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            continue
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            problems.append(f"line {node.lineno}: `{ast.unparse(node)}` is not `name: type = value`")
            continue
        try:
            ast.literal_eval(node.value)
        except ValueError:
            problems.append(f"line {node.lineno}: the default of {node.target.id} is not a literal")
    return problems


def notebook_problems(path: str | Path) -> list[str]:
    """Every rule broken in a notebook, as "<path> cell <id>, line N: ..." messages."""
    notebook = json.loads(Path(path).read_text())
    problems = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        is_parameters = "parameters" in cell.get("metadata", {}).get("tags", [])
        found = parameter_problems(source) if is_parameters else code_problems(source)
        problems += [f"{path} cell {cell.get('id')}, {problem}" for problem in found]
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    problems = [problem for path in paths for problem in notebook_problems(path)]
    print("\n".join(problems) or f"{len(paths)} notebooks follow the rules (narrative and calls only).")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
