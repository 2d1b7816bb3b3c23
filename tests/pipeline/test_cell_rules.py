"""The rules a task notebook's code cells follow: narrative, calls and plain comparisons, no algorithm."""

import pytest

from helpers.pipeline import cell_rules


@pytest.mark.parametrize(("source", "problem"), [
    ("def f(x):\n    return x\n", "defines a function"),
    ("class A:\n    pass\n", "defines a class"),
    ("w = sorted(xs, key=lambda v: -v)\n", "writes a lambda"),
    ("while n:\n    n = step(n)\n", "loops until a condition"),
    ("total += 1\n", "updates a value in place"),
    ("for x in xs:\n    total = total + x\n", "a loop that computes"),
])
def test_an_algorithm_in_a_cell_is_named(source, problem):
    assert problem in " ".join(cell_rules.code_problems(source))


def test_comparisons_arithmetic_and_loops_that_show_are_plain_cell_code():
    fine = ("gap = small['loss'] - large['loss']\n"
            "say(f'{abs(gap):.1f} nats ' + ('below' if gap > 0 else 'above'))\n"
            "rows = [[name, percent(q['share'])] for name, q in table.items() if q['share'] > 0.1]\n"
            "for key, stage in stages.items():\n    publish(plot(stage), TASK, key, 'c')\n")
    assert cell_rules.code_problems(fine) == []


def test_the_parameters_cell_holds_only_typed_literals():
    assert cell_rules.parameter_problems("a: int = 1\nb: list[int] = [1, 2]\nfrom typing import Optional\n") == []
    assert "not `name: type = value`" in cell_rules.parameter_problems("a = f()\n")[0]
    assert "is not a literal" in cell_rules.parameter_problems("a: int = f()\n")[0]
