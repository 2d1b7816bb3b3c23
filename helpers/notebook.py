"""Plumbing for the parameterized notebooks: parameter checks, computed prose and tables,
and the results file that holds every number the report quotes."""

from __future__ import annotations

import ast
import difflib
import json
import math
import os
import platform
import re
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from .atomic import write_atomic
from .paths import results_path

# --------------------------------------------------------------------------- parameters


#: Parameters that say where files go, not what is computed: left out of the recorded results
#: (so that a run's results do not depend on its scratch folder) and of the report's tables.
LOCATION_PARAMETERS = ("output_dir", "cache_dir")


class ParameterError(TypeError):
    """A notebook parameter has the wrong type or value."""


def _matches(value, expected) -> bool:
    origin = typing.get_origin(expected)
    if expected is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            return False
        args = typing.get_args(expected)
        return not args or all(_matches(item, args[0]) for item in value)
    if origin is dict:
        key_type, value_type = typing.get_args(expected) or (typing.Any, typing.Any)
        return isinstance(value, dict) and all(
            _matches(k, key_type) and _matches(v, value_type) for k, v in value.items()
        )
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def unknown_parameter_message(unknown: Sequence[str], known: Sequence[str], where: str = "") -> str:
    """The error for parameter names a notebook does not declare: each with its closest declared name."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"unknown parameter{'s' if len(parts) > 1 else ''} {', '.join(parts)}{where}. The parameters are: "
            f"{', '.join(known)}. Fix the name where it was given (papermill -p/-y/-f, params/*.yaml, "
            "a sweep grid or --set).")


def injected_names(namespace: Mapping) -> list[str]:
    """The names papermill injected into this kernel: the assignments of its ``# Parameters`` cell,
    read from IPython's input history (empty outside IPython or without injected parameters)."""
    history = namespace.get("In")
    if not isinstance(history, list):
        return []
    for source in reversed(history):
        if isinstance(source, str) and source.split("\n", 1)[0].strip() == "# Parameters":
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return []
            return [target.id for node in tree.body if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)]
    return []


def _type_name(expected) -> str:
    return getattr(expected, "__name__", None) or str(expected).replace("typing.", "")


def check_parameters(namespace: Mapping, checks: Mapping[str, typing.Callable] | None = None) -> dict:
    """Check every annotated parameter in ``namespace`` against its annotation.

    The notebook's ``parameters`` cell declares ``name: type = default``; papermill injects
    new values after it. A name papermill injected that the cell does not declare (a typo) stops
    the run with the closest declared name. A value of the wrong type stops the run with a
    message naming the parameter, the expected type, the value received, and how to pass it. ``checks`` maps
    names to a Rule (or any callable returning what is allowed, or None when the value is).
    Returns the parameters as a dict (ints given for floats become floats).
    """
    annotations = namespace.get("__annotations__", {})
    if not annotations:
        raise ParameterError(
            "the parameters cell declares no annotated parameters (write `name: type = default`)."
        )
    unknown = [name for name in injected_names(namespace) if name not in annotations]
    if unknown:
        raise ParameterError(unknown_parameter_message(unknown, list(annotations)))
    params = {}
    for name, expected in annotations.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name!r} is declared but has no value.")
        value = namespace[name]
        if not _matches(value, expected):
            raise ParameterError(
                f"parameter {name!r} must be {_type_name(expected)}, got {type(value).__name__} "
                f"{value!r}. Pass it with `papermill -p {name} VALUE` (numbers, True/False) or "
                f"`-y '{name}: ...'` (lists, strings that look like numbers), or in a params/ YAML file."
            )
        params[name] = float(value) if expected is float else value
    if checks is not None:
        check_ranges(params, checks)
    return params


def check_ranges(params: Mapping, checks: Mapping[str, typing.Callable]) -> None:
    """Check values against declared ranges (Rules), after their types were checked: a value out
    of range stops the run with the parameter, the value and what is allowed. Every parameter
    needs a rule (``anything()`` says so on purpose). Unset optional parameters (None) are skipped."""
    unchecked = [name for name in params if name not in checks]
    if unchecked:
        raise ParameterError(f"no range is declared for {unchecked}; add a rule for each to check_ranges "
                             "(at_least, between, share, one_of, path, ...).")
    for name, check in checks.items():
        if name not in params:
            raise ParameterError(f"a range is declared for {name!r}, which is not a parameter.")
        if params[name] is None:  # an optional parameter left unset (its type allows None)
            continue
        problem = check(params[name])
        if problem:
            raise ParameterError(f"parameter {name!r} = {params[name]!r} is invalid: {problem}.")


class Rule:
    """A value check for ``check_parameters``: ``rule(value)`` is None when the value is allowed,
    else what is allowed. Built by the functions below, so that notebooks declare ranges
    instead of writing checks."""

    def __init__(self, test: typing.Callable[[typing.Any], bool], allowed: str):
        self.test, self.allowed = test, allowed

    def __call__(self, value) -> str | None:
        try:
            ok = bool(self.test(value))
        except (TypeError, ValueError):
            ok = False
        return None if ok else self.allowed


def at_least(low) -> Rule:
    return Rule(lambda v: v >= low, f"must be at least {low}")


def less_than(high) -> Rule:
    return Rule(lambda v: v < high, f"must be less than {high}")


def between(low, high) -> Rule:
    """The closed interval [low, high]."""
    return Rule(lambda v: low <= v <= high, f"must be in [{low}, {high}]")


def share() -> Rule:
    """A share strictly between 0 and 1."""
    return Rule(lambda v: 0 < v < 1, "must be a share in (0, 1)")


def positive() -> Rule:
    """A finite number above zero."""
    return Rule(lambda v: 0 < v < math.inf, "must be a finite number above 0")


def one_of(options) -> Rule:
    options = list(options)
    return Rule(lambda v: v in options, f"must be one of {options}")


def each(rule: Rule) -> Rule:
    """Every element of a non-empty list passes ``rule``."""
    return Rule(lambda v: len(v) > 0 and all(rule(item) is None for item in v),
                f"must be a non-empty list whose every element {rule.allowed.removeprefix('must ')}")


def increasing() -> Rule:
    return Rule(lambda v: all(a < b for a, b in zip(v, v[1:], strict=False)), "must be strictly increasing")


def all_of(*rules: Rule) -> Rule:
    """Every rule passes; the message names the first that fails."""
    return Rule(lambda v: all(rule(v) is None for rule in rules), "; ".join(rule.allowed for rule in rules))


def starts_with(*first) -> Rule:
    return Rule(lambda v: list(v[:len(first)]) == list(first), f"must start with {list(first)}")


def length(n: int) -> Rule:
    return Rule(lambda v: len(v) == n, f"must have {n} elements")


def path() -> Rule:
    """A file or folder name: a non-empty string without NUL characters."""
    return Rule(lambda v: bool(v.strip()) and "\0" not in v, "must be a non-empty path")


def random_seed() -> Rule:
    """A seed for numpy's and Keras' generators: an integer in [0, 2**32)."""
    return Rule(lambda v: 0 <= v < 2**32, "must be an integer in [0, 2**32)")


def either(fact: bool, yes: str, no: str) -> str:
    """The words for a computed fact: ``yes`` when it holds, else ``no``."""
    return yes if fact else no


# --------------------------------------------------------------------------- prose and tables


def fmt(value: float, digits: int = 3) -> str:
    """A number for prose: ``digits`` significant digits, no exponent for everyday magnitudes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 6:
        decimals = max(digits - 1 - magnitude, 0)
        return f"{value:.{decimals}f}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def percent(share: float, decimals: int = 1) -> str:
    """A share in [0, 1] as a percentage for prose, e.g. 0.984 -> '98.4%'."""
    return f"{100.0 * float(share):.{decimals}f}%"


def say(text: str) -> None:
    """Display markdown computed in a code cell (it becomes report prose)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


_LATEX_SPECIAL = {"$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str, *, math: bool = True) -> str:
    """Escape LaTeX specials outside ``$...$`` math; with ``math=False`` everything is text,
    ``$`` included (for values from parameters, data or file names, which may hold anything)."""
    if not math:
        return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    parts = re.split(r"(\$[^$]*\$)", str(text))
    return "".join(
        part if part.startswith("$") and part.endswith("$") and len(part) > 1
        else "".join(_LATEX_SPECIAL.get(ch, ch) for ch in part)
        for part in parts
    )


class Table:
    """A small table shown as markdown in the notebook and as a booktabs table in the report."""

    def __init__(self, rows: Sequence[Sequence], columns: Sequence[str], caption: str,
                 label: str, align: str | None = None):
        widths = {len(row) for row in rows}
        if widths - {len(columns)}:
            raise ValueError(f"table {label!r}: every row needs {len(columns)} cells, got {sorted(widths)}.")
        self.rows = [[str(cell) for cell in row] for row in rows]
        self.columns = [str(c) for c in columns]
        self.caption, self.label = caption, label
        self.align = align or "l" + "r" * (len(columns) - 1)

    def _repr_markdown_(self) -> str:
        lines = [f"**{self.caption}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join(":--" if a == "l" else "--:" for a in self.align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        body = [" & ".join(latex_escape(c) for c in row) + r" \\" for row in self.rows]
        return "\n".join([
            r"\begin{table}[htbp]", r"\centering", r"\small", rf"\caption{{{latex_escape(self.caption)}}}",
            rf"\label{{{self.label}}}", rf"\begin{{tabular}}{{{self.align}}}", r"\toprule",
            " & ".join(latex_escape(c) for c in self.columns) + r" \\", r"\midrule",
            *body, r"\bottomrule", r"\end{tabular}", r"\end{table}",
        ])


def show_table(*args, **kwargs) -> None:
    """Build a Table and display it once (returns None, so a final call is not shown twice)."""
    from IPython.display import display

    display(Table(*args, **kwargs))


# --------------------------------------------------------------------------- results

#: Distributions whose versions the report lists (those not installed are left out).
REPORTED_PACKAGES = (
    "numpy", "scipy", "scikit-learn", "scikit-image", "pandas", "matplotlib", "pillow",
    "keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "papermill", "nbconvert", "ipykernel",
)


def environment_versions() -> dict[str, str]:
    """Versions of Python and the reported packages in the running environment."""
    versions = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value


def save_results(task: str, values: Mapping, *, parameters: Mapping | None = None,
                 output_dir: str | os.PathLike = ".") -> Path:
    """Write ``results/<task>.json`` atomically: the numbers, the parameters (but where files go)
    and the environment."""
    path = results_path(task, output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "task": task,
        "parameters": _jsonable({k: v for k, v in (parameters or {}).items() if k not in LOCATION_PARAMETERS}),
        "results": _jsonable(dict(values)),
        "environment": environment_versions(),
    }
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_atomic(path, text)
    return path


def load_results(task: str, output_dir: str | os.PathLike = ".") -> dict:
    """Read a task's results file written by save_results."""
    path = results_path(task, output_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no results for {task} at {path}; run its notebook first (make notebooks).")
    return json.loads(path.read_text())
