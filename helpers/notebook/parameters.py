"""A notebook's parameters: declared in its cell tagged ``parameters`` as ``name: type = default``,
read from the file before a kernel starts (a misspelled name is refused there), and checked in the
running notebook against their types and declared ranges (``check_parameters``, ``check_ranges``)."""

from __future__ import annotations

import ast
import difflib
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Parameters that say where files go, not what is computed: left out of the recorded results
#: (so that a run's results do not depend on its scratch folder) and of the report's tables.
LOCATION_PARAMETERS = ("output_dir", "cache_dir")


class ParameterError(TypeError):
    """A notebook parameter has the wrong type or value."""

    def _render_traceback_(self) -> list[str]:
        """In a notebook, the message alone: it says what is wrong, where the traceback would not."""
        return [f"ParameterError: {self}"]


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


def _refusal(problems: list[str]) -> ParameterError:
    """One error for every problem found: the problem itself, or a numbered list of them."""
    if len(problems) == 1:
        return ParameterError(problems[0])
    return ParameterError(f"{len(problems)} parameters are wrong:\n" + "\n".join(
        f"  {number}. {problem}" for number, problem in enumerate(problems, start=1)))


def check_parameters(namespace: Mapping, checks: Mapping[str, typing.Callable] | None = None) -> dict:
    """Check every annotated parameter in ``namespace`` against its annotation and ``checks``.

    The notebook's ``parameters`` cell declares ``name: type = default``; papermill injects
    new values after it. A name papermill injected that the cell does not declare (a typo) is named
    with the closest declared name; a value of the wrong type with the parameter, the expected type,
    the value received and how to pass it; a value outside its range (``checks`` maps names to a
    Rule, or any callable returning what is allowed, or None when the value is) with what is allowed.
    Every problem is found before one ParameterError names them all.
    Returns the parameters as a dict (ints given for floats become floats).
    """
    annotations = namespace.get("__annotations__", {})
    if not annotations:
        raise ParameterError(
            "the parameters cell declares no annotated parameters (write `name: type = default`)."
        )
    problems = []
    unknown = [name for name in injected_names(namespace) if name not in annotations]
    if unknown:
        problems.append(unknown_parameter_message(unknown, list(annotations)))
    params, wrong = {}, set()
    for name, expected in annotations.items():
        if name not in namespace:
            problems.append(f"parameter {name!r} is declared but has no value.")
            wrong.add(name)
            continue
        value = namespace[name]
        if not _matches(value, expected):
            problems.append(
                f"parameter {name!r} must be {_type_name(expected)}, got {type(value).__name__} "
                f"{value!r}. Pass it with `papermill -p {name} VALUE` (numbers, True/False) or "
                f"`-y '{name}: ...'` (lists, strings that look like numbers), or in a params/ YAML file."
            )
            wrong.add(name)
        params[name] = float(value) if expected is float and name not in wrong else value
    if checks is not None:
        problems += range_problems(params, checks, skip=wrong)
    if problems:
        raise _refusal(problems)
    return params


def range_problems(params: Mapping, checks: Mapping[str, typing.Callable], *, skip=()) -> list[str]:
    """Every value outside its declared range (Rules), one sentence each; parameters in ``skip`` (of the
    wrong type) and unset optional ones (None) are not checked. Every parameter needs a rule."""
    unchecked = [name for name in params if name not in checks]
    if unchecked:
        raise ParameterError(f"no range is declared for {unchecked}; add a rule for each to the checks "
                             "(at_least, between, share, one_of, path, ...).")
    problems = []
    for name, check in checks.items():
        if name not in params:
            raise ParameterError(f"a range is declared for {name!r}, which is not a parameter.")
        if name in skip or params[name] is None:  # an optional parameter left unset (its type allows None)
            continue
        problem = check(params[name])
        if problem:
            problems.append(f"parameter {name!r} = {params[name]!r} is invalid: {problem}.")
    return problems


def check_ranges(params: Mapping, checks: Mapping[str, typing.Callable]) -> None:
    """Check values against declared ranges (Rules), after their types were checked: every value out
    of range is named, with what is allowed, in one ParameterError."""
    problems = range_problems(params, checks)
    if problems:
        raise _refusal(problems)


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


def layer_sizes(max_layers: int, max_width: int, max_weights: int) -> Rule:
    """A network's hidden layer widths: 1 to ``max_layers`` layers of 1 to ``max_width`` units with at most
    ``max_weights`` weights between consecutive layers (what the network's memory grows with)."""
    return Rule(lambda v: 1 <= len(v) <= max_layers and all(1 <= w <= max_width for w in v)
                and sum(a * b for a, b in zip(v, v[1:], strict=False)) <= max_weights,
                f"must be 1 to {max_layers} layer sizes from 1 to {max_width} with at most {max_weights:,} weights "
                "between consecutive layers")


def smallest(*values):
    """The smallest of ``values`` that are numbers: a bound that depends on other parameters, some of
    which may be of the wrong type (each such one is named by itself; infinity if none is a number)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return min(numbers) if numbers else math.inf


def length(n: int) -> Rule:
    return Rule(lambda v: len(v) == n, f"must have {n} elements")


def path() -> Rule:
    """A file or folder name: a non-empty string without NUL characters."""
    return Rule(lambda v: bool(v.strip()) and "\0" not in v, "must be a non-empty path")


def random_seed() -> Rule:
    """A seed for numpy's and Keras' generators: an integer in [0, 2**32)."""
    return Rule(lambda v: 0 <= v < 2**32, "must be an integer in [0, 2**32)")


# --------------------------------------------------------------------------- the parameters cell, read from the file


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
