"""The rules a task notebook's code cells follow: narrative plus calls, no algorithm.

A code cell may import, call helpers, pick fields and format them for prose; it may not define
functions or classes, write lambdas, do arithmetic, compare values, or update in place. Sentences
that depend on a result take a fact that a helper returned (``either(fact, "does", "does not")``).
The parameters cell holds only ``name: type = literal`` lines (and the typing import they need).

    python -m helpers.notebook_rules notebooks/*.ipynb notebooks/sweeps/*.ipynb
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
    ast.Lambda: "writes a lambda (put the logic in helpers/, or use a helpers.notebook rule)",
    ast.AugAssign: "updates a value in place (compute it in a helper)",
    ast.While: "loops until a condition (an algorithm: put it in helpers/)",
}


def _is_text(node: ast.AST) -> bool:
    """A string literal, an f-string, or a concatenation with one of them (prose joined with +)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_text(node.left) or _is_text(node.right)
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def code_problems(source: str) -> list[str]:
    """What in one code cell breaks the rules, as "line N: ..." messages."""
    tree = ast.parse(source)
    problems = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        for kind, message in _FORBIDDEN.items():
            if isinstance(node, kind):
                problems.append(f"line {line}: {message}")
        if isinstance(node, ast.BinOp) and not (isinstance(node.op, ast.Add)
                                                and (_is_text(node.left) or _is_text(node.right))):
            problems.append(f"line {line}: arithmetic `{ast.unparse(node)}` (compute it in a helper)")
        if isinstance(node, ast.Compare) and not all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            problems.append(f"line {line}: comparison `{ast.unparse(node)}` (a helper should return the fact)")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert) \
                and not isinstance(node.operand, ast.Constant):
            problems.append(f"line {line}: arithmetic `{ast.unparse(node)}` (compute it in a helper)")
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
