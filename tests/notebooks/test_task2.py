"""A papermill smoke run of the Task 2 notebook: its results against direct computations."""

import numpy as np
import pytest

from helpers.core import data
from helpers.dmaps.estimator import DiffusionMap
from helpers.dmaps.manifold_checks import false_neighbour_fraction

from ..conftest import published_figures, require_datafold, run_notebook, smoke_results

pytestmark = pytest.mark.slow

TASK = "task2_diffusion_maps"


def test_datafold_agrees_with_our_swiss_roll(results):
    require_datafold()
    reference, roll = results["results"]["datafold"], results["results"]["swiss_roll"]
    assert reference["available"] and reference["cut_off"] is None  # 900 points: the dense kernel, every pair
    np.testing.assert_allclose(reference["our_eigenvalues"], roll["markov_eigenvalues"])
    assert reference["max_difference"] < 1e-10 and reference["max_decorrelation"] < 1e-8
    assert reference["our_choice"] == roll["first_new_direction"]
    assert reference["same_choice"] == (reference["datafold_choice"] == reference["our_choice"])


def test_without_datafold_the_section_says_so_and_the_rest_runs(tmp_path):
    import json

    out = run_notebook("task2_diffusion_maps", tmp_path, datafold_python=str(tmp_path / "no-datafold" / "python"))
    said = [("".join(output["data"]["text/markdown"]))
            for cell in json.loads(out.read_text())["cells"] for output in cell.get("outputs", [])
            if "text/markdown" in output.get("data", {})]
    left_out = [text for text in said if text.startswith("datafold's eigenfunctions are left out")]
    assert left_out == ["datafold's eigenfunctions are left out of this build: datafold's environment was not found; "
                        "`make datafold` creates it (it needs the package index once)."]
    assert published_figures(tmp_path, "task2_diffusion_maps") >= {"swiss_roll_eigenfunctions", "pedestrians_embedding"}
    assert "swiss_roll_datafold" not in published_figures(tmp_path, "task2_diffusion_maps")
    assert smoke_results(tmp_path, "task2_diffusion_maps")["results"]["datafold"]["available"] is False


def test_periodic_results_are_fourier_pairs(results):
    periodic = results["results"]["periodic"]
    assert periodic["n"] == 200 and periodic["frequencies"] == [0, 1, 1, 2, 2]
    assert min(periodic["fourier_shares"][1:]) > 0.999
    assert periodic["epsilon"] == pytest.approx(0.05 * 2.0, rel=1e-4)  # the circle's diameter is 2


def test_swiss_roll_results_are_consistent(results):
    roll = results["results"]["swiss_roll"]
    assert roll["n"] == 900 and len(roll["markov_eigenvalues"]) == 7
    assert np.all(np.diff(roll["markov_eigenvalues"]) <= 0)
    new = roll["first_new_direction"]
    assert new is None or roll["residuals_first"][new - 1] > 0.5 > max(roll["residuals_first"][1:new - 1])
    assert roll["shape"]["predicted_first_across"] == roll["shape"]["modes_along_first"] + 1
    assert results["results"]["swiss_roll_small"]["agreement"] in ("none", "same", "different")
    energy = roll["pca"]["energy"]
    assert len(energy) == 3 and sum(energy) == pytest.approx(1.0) and min(energy) > 0.2  # a roll: no flat direction


def test_pedestrian_answer_matches_a_direct_computation(results):
    ped = results["results"]["pedestrians"]
    trajectories = data.load_vadere()
    phi = DiffusionMap(6).fit(trajectories).eigenfunctions_
    needed = ped["eigenfunctions_needed"]
    assert false_neighbour_fraction(trajectories, phi[:, 1:needed + 1]) <= 0.01
    assert false_neighbour_fraction(trajectories, phi[:, 1:needed]) > 0.01
    np.testing.assert_allclose(ped["false_neighbour_shares"][needed - 1],
                               false_neighbour_fraction(trajectories, phi[:, 1:needed + 1]))
