"""What a notebook's result depends on, derived from its code: the helper modules it imports
(and those they import, transitively), the data files its loaders read, and its sweep. The
Makefile includes the rules this writes, so nobody lists a task's prerequisites by hand.

    python -m helpers.pipeline.deps notebooks/task1_pca.ipynb   # prints make rules
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

from helpers.core.files import ROOT


def module_file(dotted: str) -> Path | None:
    """The file of a helpers module or package (``helpers.core.data``), None if there is none."""
    path = ROOT.joinpath(*dotted.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def _with_packages(dotted: str) -> list[str]:
    """``helpers.core.data`` and the packages its import runs: helpers, helpers.core."""
    parts = dotted.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def imported_from(node: ast.ImportFrom, module: str) -> str:
    """The dotted module an ``from ... import`` in ``module`` (its dotted name; a package's is that of
    its ``__init__``) imports from, relative imports resolved."""
    base = node.module or ""
    if node.level:
        package = module.rsplit(".", node.level)[0]
        base = f"{package}.{base}" if base else package
    return base


def imported_helpers(source: str, module: str = "") -> set[str]:
    """The helpers modules and packages ``source`` imports, absolutely or relative to ``module``, with
    the packages each import runs."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = imported_from(node, module)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]  # a name may be a submodule
        else:
            continue
        found |= {name for name in names if name.split(".")[0] == "helpers" and module_file(name)}
    return {package for name in found for package in _with_packages(name)}


def dotted_name(file: Path) -> str:
    """The dotted name a file's relative imports start from (a package for ``__init__.py``)."""
    parts = file.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts if parts[-1] != "__init__" else (*parts[:-1], "__init__"))


def helper_closure(source: str) -> list[str]:
    """The helpers files ``source`` needs, with everything they import, as sorted repository paths."""
    todo, seen = list(imported_helpers(source)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        file = module_file(name)
        todo += sorted(imported_helpers(file.read_text(), dotted_name(file)) - seen)
    return sorted(module_file(name).relative_to(ROOT).as_posix() for name in seen)


def _loader_files() -> dict[str, list[str]]:
    """For each ``load_*`` function of the data contract, the registry's file names it reads."""
    from helpers.core.data import REGISTRY

    files = {}
    for node in ast.parse(module_file("helpers.core.data").read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("load_"):
            keys = [call.args[0].value for call in ast.walk(node)
                    if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ("locate", "_locate")
                    and call.args and isinstance(call.args[0], ast.Constant)]
            files[node.name] = [REGISTRY[key].filename for key in keys]
    return files


def data_files(sources: list[str]) -> list[str]:
    """The data files read by the ``load_*`` calls in ``sources``."""
    loaders = _loader_files()
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
              for source in sources for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)}
    return sorted({name for loader in called & set(loaders) for name in loaders[loader]})


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def dependencies(notebook: str | Path, params_dir: str | Path = "params") -> dict[str, list[str]]:
    """The helper files, data files and sweep summary a task notebook's run depends on (its sweep
    grid is ``<params_dir>/sweeps/<task>.yaml``); ``keras`` says whether it uses Keras."""
    notebook = Path(notebook)
    task = notebook.stem
    code = notebook_code(ROOT / notebook if not notebook.is_absolute() else notebook)
    files = helper_closure(code)
    sweep_grid = ROOT / params_dir / "sweeps" / f"{task}.yaml"
    sweeps = [f"build/sweeps/{task}.json"] if sweep_grid.is_file() else []
    sources = [code] + [(ROOT / file).read_text() for file in files]
    keras = any(re.search(r"^\s*(import keras|from keras)", source, re.MULTILINE) for source in sources)
    return {"helpers": files, "data": data_files(sources), "sweeps": sweeps,
            "keras": keras, "datafold": "helpers/dmaps/datafold_reference.py" in files}


#: The stamp whose content is the Keras backend; a notebook that uses Keras depends on it.
BACKEND_STAMP = "build/env/keras-backend"
#: The stamp that says whether datafold's environment is there; a notebook that compares with it depends on it.
DATAFOLD_STAMP = "build/env/datafold"


def environment_stamps(found: dict) -> list[str]:
    """The stamps of the environment a notebook's result depends on (Keras backend, datafold)."""
    return [stamp for stamp, used in ((BACKEND_STAMP, found["keras"]), (DATAFOLD_STAMP, found["datafold"])) if used]


def make_rules(path: str | Path, params_dir: str | Path = "params") -> str:
    """Make variables for a task notebook (HELPERS_<task>, DATA_<task>, SWEEP_<task>, ENV_<task>) or
    for a sweep grid (SWEEP_NOTEBOOK_<name>, SWEEP_HELPERS_<name>, SWEEP_DATA_<name>, SWEEP_ENV_<name>:
    its notebook's needs). ENV holds the stamps of the Keras backend and of datafold's environment,
    for the notebooks that use them."""
    path = Path(path)
    name = path.stem
    if path.suffix == ".yaml":
        from helpers.core.files import read_yaml_file

        grid = read_yaml_file(ROOT / path)
        notebook = grid.get("notebook") if isinstance(grid, dict) else None
        if not notebook:
            raise ValueError(f"{path} names no notebook; see helpers/pipeline/sweep.py.")
        found = dependencies(notebook, params_dir)
        variables = {"SWEEP_NOTEBOOK": [notebook], "SWEEP_HELPERS": found["helpers"], "SWEEP_DATA": found["data"],
                     "SWEEP_ENV": environment_stamps(found)}
    else:
        found = dependencies(path, params_dir)
        variables = {"HELPERS": found["helpers"], "DATA": found["data"], "SWEEP": found["sweeps"],
                     "ENV": environment_stamps(found)}
    return "".join(f"{kind}_{name} := {' '.join(values)}\n" for kind, values in variables.items())


def main(argv: list[str] | None = None) -> int:
    import argparse

    from helpers.core.files import write_atomic

    parser = argparse.ArgumentParser(description="Write make variables of each notebook's or sweep's prerequisites.")
    parser.add_argument("paths", nargs="+", help="task notebooks and sweep grids (params/sweeps/*.yaml)")
    parser.add_argument("--out", type=Path, help="write the rules here (atomically) instead of printing them")
    parser.add_argument("--params", default="params", help="the parameters folder (its sweeps/ holds the grids)")
    args = parser.parse_args(argv)
    rules = "# Generated by `python -m helpers.pipeline.deps`; do not edit.\n" + "".join(
        make_rules(path, args.params) for path in args.paths)
    if args.out:
        write_atomic(args.out, rules)
    else:
        sys.stdout.write(rules)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
