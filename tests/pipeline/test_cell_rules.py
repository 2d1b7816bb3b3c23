"""The rules a task notebook's code cells follow."""

from helpers.pipeline import cell_rules as notebook_rules


def test_the_notebook_rules_catch_algorithms_in_cells():
    bad = ("def f(x):\n    return x\n"
           "y = [v for v in range(3) if v > 1]\n"
           "z = n - 1\n"
           "s = 'a' + (n + 1)\n"
           "w = lambda v: v\n"
           "total += 1\n")
    problems = " ".join(notebook_rules.code_problems(bad))
    for expected in ("defines a function", "comparison `v > 1`", "arithmetic `n - 1`", "arithmetic `n + 1`",
                     "writes a lambda",
                     "updates a value in place"):
        assert expected in problems
    fine = ("say(f'{x:.2f} is ' + either(fact, 'high', 'low') + ', '.join(words))\n"
            "if result is None:\n    say('none')\n"
            "rows = [[name, percent(q['share'])] for name, q in table.items() if not q['hidden']]\n")
    assert notebook_rules.code_problems(fine) == []
    assert notebook_rules.parameter_problems("a: int = 1\nb: list[int] = [1, 2]\n") == []
    assert "not `name: type = value`" in notebook_rules.parameter_problems("a = f()\n")[0]
