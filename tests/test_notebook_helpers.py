"""Parameter checks, tables, results and figure saving used by every notebook."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import figures
from helpers.notebook import (
    ParameterError,
    Table,
    check_parameters,
    fmt,
    latex_escape,
    save_results,
)


def namespace(**values):
    annotations = {"n": int, "rate": float, "sizes": list[int], "name": str}
    defaults = {"n": 3, "rate": 0.5, "sizes": [1, 2], "name": "x"}
    return {"__annotations__": annotations, **defaults, **values}


def test_parameters_of_the_right_type_pass_and_ints_become_floats():
    params = check_parameters(namespace(rate=2))
    assert params == {"n": 3, "rate": 2.0, "sizes": [1, 2], "name": "x"}
    assert isinstance(params["rate"], float)


@pytest.mark.parametrize(("name", "value"), [("n", "5"), ("n", 2.5), ("n", True), ("sizes", [1, "2"]),
                                             ("sizes", 3), ("rate", "fast"), ("name", 1)])
def test_wrongly_typed_parameters_name_the_parameter_and_the_fix(name, value):
    with pytest.raises(ParameterError, match=rf"parameter '{name}' must be .* got .*papermill -p"):
        check_parameters(namespace(**{name: value}))


def checks(**rules):
    """A rule for every parameter of ``namespace()``: anything goes, but for ``rules``."""
    return {name: rules.get(name, lambda v: None) for name in ("n", "rate", "sizes", "name")}


def test_value_checks_report_the_problem():
    with pytest.raises(ParameterError, match="'rate' = 2.0 is invalid: must be below 1"):
        check_parameters(namespace(rate=2.0), checks(rate=lambda v: None if v < 1 else "must be below 1"))


def test_fmt_and_latex_escape():
    assert fmt(0.012345) == "0.0123"
    assert fmt(123.456) == "123"
    assert fmt(1.5e-7) == "$1.50 \\times 10^{-7}$"
    assert latex_escape("50% of x_1 & $x_1$") == r"50\% of x\_1 \& $x_1$"


def test_table_renders_latex_and_checks_row_width():
    table = Table([["a_b", 1], ["c", 2]], ["name", "$L$"], caption="A 5% table", label="tab:t")
    latex = table._repr_latex_()
    assert r"a\_b & 1 \\" in latex and r"\caption{A 5\% table}" in latex and "name & $L$" in latex
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        Table([["a"]], ["x", "y"], caption="c", label="l")


def test_results_are_written_atomically_with_environment(tmp_path):
    path = save_results("taskx", {"value": np.float64(1.5), "array": np.arange(3)},
                        parameters={"seed": 1}, output_dir=tmp_path)
    document = json.loads(path.read_text())
    assert document["results"] == {"value": 1.5, "array": [0, 1, 2]}
    assert document["parameters"] == {"seed": 1}
    assert document["environment"]["numpy"] == np.__version__
    assert [p.name for p in path.parent.iterdir()] == ["taskx.json"]
    with pytest.raises(ValueError):
        save_results("taskx", {"bad": float("nan")}, output_dir=tmp_path)
    assert json.loads(path.read_text())["results"]["value"] == 1.5  # the good file survived


def _figure():
    fig, ax = figures.new_figure(width="half")
    ax.plot([0, 1, 2], [1, 0, 1], label="a")
    ax.legend()
    return fig


def test_figures_are_byte_reproducible_and_carry_report_metadata(tmp_path):
    first = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path / "a")
    second = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path / "b")
    assert first.file("pdf").read_bytes() == second.file("pdf").read_bytes()
    assert first.file("png").read_bytes() == second.file("png").read_bytes()
    assert first.file("pdf").read_bytes().startswith(b"%PDF") and b"CreationDate" not in first.file().read_bytes()
    data, meta = first._repr_mimebundle_()
    assert data["image/png"].startswith(b"\x89PNG")
    assert meta["mlcms_figure"]["caption"] == "A curve." and meta["mlcms_figure"]["pdf"].endswith("t/curve.pdf")


def test_a_failing_save_keeps_the_previous_figure(tmp_path, monkeypatch):
    good = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path)
    before = good.file().read_bytes()
    fig = _figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        figures.save_figure(fig, "t", "curve", "A curve.", output_dir=tmp_path)
    assert good.file().read_bytes() == before
    assert sorted(p.name for p in good.file().parent.iterdir()) == ["curve.pdf", "curve.png"]


def test_figure_names_and_captions_are_checked(tmp_path):
    with pytest.raises(ValueError, match="needs a caption"):
        figures.save_figure(_figure(), "t", "x", " ", output_dir=tmp_path)
    with pytest.raises(ValueError, match="letters, digits"):
        figures.save_figure(_figure(), "t", "../x", "c", output_dir=tmp_path)
    plt.close("all")


def test_declared_ranges_name_what_is_allowed():
    from helpers.notebook import all_of, at_least, between, each, increasing, less_than, one_of, positive, share

    assert at_least(1)(0) == "must be at least 1" and at_least(1)(1) is None
    assert between(0, 14)(15) == "must be in [0, 14]" and between(0, 14)(14) is None
    assert share()(1.0) and share()(0.5) is None and share()(float("nan"))
    assert positive()(float("inf")) and positive()(-0.01) and positive()(1e-9) is None
    assert one_of(["a", "b"])("c") == "must be one of ['a', 'b']"
    assert each(at_least(1))([]) and each(at_least(1))([1, 0]) and each(at_least(1))([1, 2]) is None
    assert increasing()([1, 1]) and increasing()([1, 2]) is None
    assert all_of(at_least(2), less_than(5))(5) and all_of(at_least(2), less_than(5))(3) is None
    assert at_least(1)("x") == "must be at least 1"  # a value of the wrong kind fails instead of crashing
    with pytest.raises(ParameterError, match="'n' = 0 is invalid: must be at least 1"):
        check_parameters(namespace(n=0), checks(n=at_least(1)))


def test_optional_parameters_skip_their_range_check_when_unset():
    space = {"__annotations__": {"size": int | None}, "size": None}
    from helpers.notebook import at_least

    assert check_parameters(space, {"size": at_least(1)}) == {"size": None}
    with pytest.raises(ParameterError, match="'size' = 0 is invalid"):
        check_parameters({**space, "size": 0}, {"size": at_least(1)})


def test_either_picks_the_words_for_a_fact():
    from helpers.notebook import either

    assert either(True, "does", "does not") == "does" and either(False, "does", "does not") == "does not"
