"""The interface to datafold's environment (arrays in, arrays out), and the comparison with our diffusion map."""

import json
import sys

import numpy as np
import pytest

from helpers.core import synthetic
from helpers.dmaps import datafold_reference, manifold_checks
from helpers.dmaps.datafold_reference import DatafoldError, align, run_datafold
from helpers.dmaps.estimator import DiffusionMap

from ..conftest import require_datafold


def fake_datafold(tmp_path, body: str):
    """An 'interpreter' that runs ``body`` (Python, with ``source`` and ``target`` paths) instead of datafold."""
    script = tmp_path / "stub.py"
    script.write_text("import sys\nimport numpy as np\nsource, target = sys.argv[1], sys.argv[2]\n" + body)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$3" "$4"\n')  # $1 = -I, $2 = the worker
    python.chmod(0o755)
    return python


POINTS = np.random.default_rng(0).normal(size=(30, 3))


def test_without_datafolds_environment_the_comparison_says_why(tmp_path):
    dmap = DiffusionMap(4).fit(POINTS)
    missing = tmp_path / "nowhere" / "python"
    reference = datafold_reference.compare(dmap, POINTS, {"first_new": None}, python=missing)
    assert reference == {"available": False, "reason": "datafold's environment was not found; `make datafold` "
                                                       "creates it (it needs the package index once)"}


def test_the_reason_the_report_prints_names_no_path_and_no_given_text(tmp_path):
    """The path of the checkout holds the user's name, and a given text could hold LaTeX."""
    given = tmp_path / "\\input{x}" / "python"
    reference = datafold_reference.compare(DiffusionMap(4).fit(POINTS), POINTS, {"first_new": None}, python=given)
    assert str(tmp_path) not in reference["reason"] and "input" not in reference["reason"]


def test_a_failing_datafold_reports_its_last_line(tmp_path):
    python = fake_datafold(tmp_path, "raise SystemExit('ValueError: something inside datafold')")
    with pytest.raises(DatafoldError, match="datafold failed .*: ValueError: something inside datafold"):
        run_datafold(POINTS, epsilon=1.0, cut_off=3.0, n_eigenpairs=4, python=python)


def test_an_answer_with_python_objects_or_wrong_shapes_is_refused(tmp_path):
    pickled = fake_datafold(tmp_path, "np.savez(target, eigenvalues=np.array([{'a': 1}], dtype=object))")
    with pytest.raises(DatafoldError, match="not the expected arrays"):
        run_datafold(POINTS, epsilon=1.0, cut_off=3.0, n_eigenpairs=4, python=pickled)
    wrong = fake_datafold(tmp_path, "np.savez(target, eigenvalues=np.ones(4), eigenvectors=np.ones((29, 4)), "
                                    "residuals=np.ones(4), selected=np.array([1, 2]), version=np.array('x'))")
    with pytest.raises(DatafoldError, match=r"answered \(29, 4\) eigenvectors .* for 30 points and 4 eigenpairs"):
        run_datafold(POINTS, epsilon=1.0, cut_off=3.0, n_eigenpairs=4, python=wrong)


def test_the_worker_gets_the_points_and_settings_and_a_clean_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as in a notebook kernel
    echo = fake_datafold(tmp_path, """import os
given = np.load(source, allow_pickle=False)
assert os.environ["MPLBACKEND"] == "agg" and "PYTHONPATH" not in os.environ
n, k = len(given["points"]), int(given["n_eigenpairs"])
values = np.array([given["epsilon"], given["cut_off"], given["n_subsample"], given["seed"]])
np.savez(target, eigenvalues=values, eigenvectors=given["points"][:, :1] * np.ones(k), residuals=np.ones(k),
         selected=np.array([1, 3]), version=np.array("stub"))
""")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    answer = run_datafold(POINTS, epsilon=0.5, cut_off=2.5, n_eigenpairs=4, n_subsample=100, seed=7, python=echo)
    assert answer["eigenvalues"].tolist() == [0.5, 2.5, 100, 7] and answer["version"] == "stub"
    np.testing.assert_array_equal(answer["eigenvectors"][:, 2], POINTS[:, 0])
    with pytest.raises(ValueError, match="n_eigenpairs must be an integer in"):
        run_datafold(POINTS, epsilon=0.5, cut_off=2.5, n_eigenpairs=40, python=echo)


def test_alignment_fixes_sign_and_scale_and_measures_the_correlation():
    rng = np.random.default_rng(1)
    ours = np.column_stack([np.full(50, 0.3), rng.normal(size=(50, 3))])
    theirs = ours * [2.0, -3.0, 0.5, -1.0]
    theirs[:, 3] += 0.1 * rng.normal(size=50)
    aligned, correlation = align(ours, theirs)
    np.testing.assert_allclose(aligned[:, :3], ours[:, :3])
    assert np.isnan(correlation[0]) and correlation[1:3] == pytest.approx([1.0, 1.0])
    assert 0.98 < correlation[3] < 0.999 and np.corrcoef(aligned[:, 3], ours[:, 3])[0, 1] > 0
    with pytest.raises(ValueError, match="differ in shape"):
        align(ours, theirs[:, :3])


def test_the_table_and_the_recorded_results():
    comparison = {"our_eigenvalues": np.array([1.0, 0.9, 0.8]), "datafold_eigenvalues": np.array([1.0, 0.9, 0.7999]),
                  "differences": np.array([0.0, 0.0, -1e-4]),
                  "correlation": np.array([np.nan, 1.0, 0.99]), "datafold_residuals": np.array([np.nan, 1.0, 0.25]),
                  "eigenfunctions": np.ones((5, 3)), "available": True}
    rows = datafold_reference.table(comparison, {"previous": np.array([1.0, 0.125])})
    assert rows[0] == ["0", "1.000000", "1.000000", "0", "constant", "", ""]
    assert rows[2] == ["2", "0.800000", "0.799900", "$1.0 \\times 10^{-4}$", "$1.0 \\times 10^{-2}$", "0.12", "0.25"]
    recorded = datafold_reference.recorded(comparison)
    assert "eigenfunctions" not in recorded and recorded["correlation"] == [None, 1.0, 0.99]
    json.dumps(recorded, allow_nan=False)


@pytest.mark.parametrize(("n", "storage"), [(400, "dense"), (3000, "sparse")])
def test_datafold_finds_our_eigenpairs_on_a_swiss_roll(n, storage):
    require_datafold()
    roll, _ = synthetic.swiss_roll(n, seed=0)
    dmap = DiffusionMap(6, storage=storage).fit(roll)
    residuals = manifold_checks.residual_analysis(dmap.eigenfunctions_, seed=0)
    reference = datafold_reference.compare(dmap, roll, residuals, n_subsample=300, seed=0)
    assert reference["available"] and reference["version"] == "2.0.2"
    assert reference["max_difference"] < 1e-10 and reference["max_decorrelation"] < 1e-8
    assert (reference["cut_off"] is None) == (storage == "dense")
    np.testing.assert_allclose(reference["eigenfunctions"], dmap.eigenfunctions_, atol=1e-8)
    assert reference["datafold_selected"][0] == 1 and len(reference["datafold_selected"]) == 2
    assert reference["datafold_choice"] == reference["datafold_selected"][1]
    assert np.isnan(reference["datafold_residuals"][0]) and reference["datafold_residuals"][1] == 1.0


def _answer(**changes) -> dict:
    """A well-formed answer of datafold for 30 points and 4 eigenpairs, with ``changes``."""
    answer = {"eigenvalues": np.array([1.0, 0.9, 0.8, 0.7]), "eigenvectors": np.ones((30, 4)),
              "residuals": np.array([np.nan, 1.0, 0.2, 0.9]), "selected": np.array([1, 3]),
              "version": np.array("2.0.2")}
    return {**answer, **changes}


@pytest.mark.parametrize(("changes", "problem"), [
    ({"eigenvectors": np.full((30, 4), np.nan)}, "eigenvalues or eigenvectors that are not finite numbers"),
    ({"selected": np.array([], dtype=int)}, "the selection \\[\\], not two indices of eigenvectors from 1 to 3"),
    ({"selected": np.array([1.7, 2.0])}, "the selection \\[1.7, 2.0\\], not two indices"),
    ({"selected": np.array([1, 4])}, "the selection \\[1, 4\\], not two indices"),
    ({"residuals": np.array([0.5])}, "residuals of shape \\(1,\\), not 4 finite numbers"),
])
def test_an_answer_of_datafold_that_makes_no_sense_is_refused_naming_the_field(changes, problem):
    with pytest.raises(DatafoldError, match=f"datafold answered {problem}"):
        datafold_reference.checked_answer(_answer(**changes), 30, 4)


def test_a_well_formed_answer_passes_with_its_version_as_text():
    assert datafold_reference.checked_answer(_answer(), 30, 4)["version"] == "2.0.2"
