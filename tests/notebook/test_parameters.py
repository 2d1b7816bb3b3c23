"""A notebook's parameters: their types, their declared ranges, and the names read from the file."""

import pytest

from helpers.notebook.parameters import (
    ParameterError,
    all_of,
    at_least,
    between,
    check_names,
    check_parameters,
    declared_defaults,
    each,
    increasing,
    layer_sizes,
    less_than,
    one_of,
    positive,
    share,
)


def namespace(**values):
    annotations = {"n": int, "rate": float, "sizes": list[int], "name": str}
    defaults = {"n": 3, "rate": 0.5, "sizes": [1, 2], "name": "x"}
    return {"__annotations__": annotations, **defaults, **values}


def checks(**rules):
    """A rule for every parameter of ``namespace()``: anything goes, but for ``rules``."""
    return {name: rules.get(name, lambda v: None) for name in ("n", "rate", "sizes", "name")}


def test_parameters_of_the_right_type_pass_and_ints_become_floats():
    params = check_parameters(namespace(rate=2))
    assert params == {"n": 3, "rate": 2.0, "sizes": [1, 2], "name": "x"}
    assert isinstance(params["rate"], float)


@pytest.mark.parametrize(("name", "value"), [("n", "5"), ("n", 2.5), ("n", True), ("sizes", [1, "2"]),
                                             ("sizes", 3), ("rate", "fast"), ("name", 1)])
def test_wrongly_typed_parameters_name_the_parameter_and_the_fix(name, value):
    with pytest.raises(ParameterError, match=rf"parameter '{name}' must be .* got .*papermill -p"):
        check_parameters(namespace(**{name: value}))


def test_a_value_out_of_range_names_parameter_value_and_rule():
    with pytest.raises(ParameterError, match="'n' = 0 is invalid: must be at least 1"):
        check_parameters(namespace(n=0), checks(n=at_least(1)))


@pytest.mark.parametrize(("rule", "bad", "good", "allowed"), [
    (at_least(1), 0, 1, "must be at least 1"),
    (between(0, 14), 15, 14, "must be in [0, 14]"),
    (share(), 1.0, 0.5, "must be a share in (0, 1)"),
    (share(), float("nan"), 0.5, "must be a share in (0, 1)"),
    (positive(), float("inf"), 1e-9, "must be a finite number above 0"),
    (positive(), -0.01, 1e-9, "must be a finite number above 0"),
    (one_of(["a", "b"]), "c", "a", "must be one of ['a', 'b']"),
    (each(at_least(1)), [], [1, 2], "must be a non-empty list whose every element be at least 1"),
    (each(at_least(1)), [1, 0], [1, 2], "must be a non-empty list whose every element be at least 1"),
    (increasing(), [1, 1], [1, 2], "must be strictly increasing"),
    (all_of(at_least(2), less_than(5)), 5, 3, "must be at least 2; must be less than 5"),
    (at_least(1), "x", 1, "must be at least 1"),  # a value of the wrong kind fails instead of crashing
])
def test_each_rule_says_what_is_allowed(rule, bad, good, allowed):
    assert rule(bad) == allowed and rule(good) is None


def test_optional_parameters_skip_their_range_check_when_unset():
    space = {"__annotations__": {"size": int | None}, "size": None}
    assert check_parameters(space, {"size": at_least(1)}) == {"size": None}
    with pytest.raises(ParameterError, match="'size' = 0 is invalid"):
        check_parameters({**space, "size": 0}, {"size": at_least(1)})


def _notebook(source: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source}]}


def test_the_declared_defaults_are_read_from_the_parameters_cell():
    assert declared_defaults(_notebook("seed: int = 0\nsizes: list[int] = [1, 2]\n")) == {"seed": 0, "sizes": [1, 2]}


def test_a_misspelled_name_is_refused_with_the_closest_declared_one():
    with pytest.raises(ParameterError, match="unknown parameter 'sed' \\(did you mean 'seed'\\?\\) in a.yaml"):
        check_names(_notebook("seed: int = 0\n"), {"sed": 1}, " in a.yaml")


def test_layer_sizes_bound_the_number_the_width_and_the_weights_between_layers():
    rule = layer_sizes(8, 4096, 4096**2)
    assert rule([256, 256]) is None and rule([4096, 4096]) is None and rule([16] * 8) is None
    for refused in ([], [4096] * 100, [16] * 9, [8192], [0], [4096, 4096, 2]):
        assert rule(refused) == ("must be 1 to 8 layer sizes from 1 to 4096 with at most 16,777,216 weights between "
                                 "consecutive layers"), refused


def test_every_problem_is_named_at_once_names_types_and_ranges():
    space = namespace(n=0, rate="fast", sizes=[5], In=["# Parameters\nnn = 1\nn = 0\nrate = 'fast'\n"])
    with pytest.raises(ParameterError) as refused:
        check_parameters(space, checks(n=at_least(1), rate=positive(), sizes=each(between(1, 3))))
    message = str(refused.value)
    assert message.startswith("4 parameters are wrong:\n  1. unknown parameter 'nn' (did you mean 'n'?)")
    assert "\n  2. parameter 'rate' must be float, got str 'fast'." in message
    assert "\n  3. parameter 'n' = 0 is invalid: must be at least 1." in message
    assert "\n  4. parameter 'sizes' = [5] is invalid: must be a non-empty list whose every element" in message


def test_a_bound_from_other_parameters_takes_the_numbers_among_them():
    from helpers.notebook.parameters import smallest

    assert smallest(100, 20) == 20 and smallest(100, "twenty") == 100 and smallest("a") == float("inf")
