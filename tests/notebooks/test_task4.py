"""A papermill smoke run of the Task 4 notebook (after a two-point sweep), with a tiny VAE."""

import json

import numpy as np
import pytest

from helpers.evacuation import critical_number
from helpers.evacuation.scenario import load_scenario

from ..conftest import run_notebook

pytestmark = pytest.mark.slow

TASK = "task4_fire_evacuation"


@pytest.fixture(scope="module")
def values(results):
    """The numbers of the results file."""
    return results["results"]


def test_the_initial_positions_and_the_scenario_are_written(smoke_root, values):
    lines = (smoke_root / "results" / "task4_initial_positions.csv").read_text().splitlines()
    assert lines[0] == "x,y" and len(lines) == 31  # the smoke run places 30 people
    positions = np.array([line.split(",") for line in lines[1:]], dtype=float)
    assert np.isfinite(positions).all()
    assert values["initial_positions"]["inside"] == int(critical_number.in_rectangle(positions).sum())
    # the scenario file holds the same start positions, inside the walkable area built from the data
    scenario = load_scenario(smoke_root / "results" / "task4_scenario.json")
    np.testing.assert_allclose(scenario.positions, positions, atol=5e-4)
    area = values["walkable_area"]
    assert scenario.area.area == pytest.approx(area["square_metres"]) and area["coverage"] >= 0.99
    assert scenario.exit.bounds == pytest.approx(area["exit_bounds"])


def test_the_evacuations_are_summarised_and_compared(values):
    evacuation = values["evacuation"]
    vae, reference = evacuation["VAE"], evacuation["resampled training data"]
    for source in (vae, reference):
        assert len(source["evacuation_times"]) == 2 and source["all_out"] and source["not_out"] == 0
        assert source["mean"] == pytest.approx(np.mean(source["evacuation_times"]))
        assert all(half < whole for half, whole in zip(source["half_times"], source["evacuation_times"], strict=True))
        # a walk across the building at 1.34 m/s takes between one and several minutes
        assert 60 < source["mean"] < 600
        assert all(0 <= people <= 30 for people in source["peak_people"])
    comparison = evacuation["comparison"]
    assert comparison["all"]["difference"] == pytest.approx(vae["mean"] - reference["mean"])
    assert comparison["half"]["difference"] == pytest.approx(vae["mean_half"] - reference["mean_half"])
    assert reference["redrawn_outside"] <= vae["redrawn_outside"]  # the data's own positions lie in the area


def test_the_sweep_table_and_choice_are_recorded(smoke_root, values):
    sweep = json.loads((smoke_root / "sweeps" / "task4_fire_evacuation.json").read_text())
    assert [p["label"] for p in sweep["points"]] == ["base", "latent_dim=1"]
    losses = {p["label"]: p["metrics"]["validation_negative_elbo"] for p in sweep["points"]}
    assert sweep["chosen"] == min(losses, key=losses.get) == values["sweep"]["chosen"]
    assert [p["chosen"] for p in sweep["points"]] == [p["label"] == sweep["chosen"] for p in sweep["points"]]
    # the notebook trains the chosen configuration: its latent dimension comes from the sweep
    chosen = next(p["parameters"] for p in sweep["points"] if p["chosen"])
    assert values["vae"]["config"]["latent_dim"] == chosen["latent_dim"] and values["sweep"]["overridden"] == {}
    assert values["vae"]["best_epoch"] == int(np.argmin(values["vae"]["validation_curve"])) + 1
    assert len(values["vae"]["test_curve"]) == values["vae"]["epochs_trained"]


def test_critical_numbers_agree_with_the_data_and_the_shares(values):
    data_share = values["data"]["share_inside"]["training"]
    assert data_share == pytest.approx(274 / 3000)  # the training set's count inside the entrance area
    table = values["critical_number"]
    exact = table["training data (exact, negative binomial)"]
    assert exact["mean"] == pytest.approx(101 / data_share)
    resampled = table["resampled training data (200 repeats)"]
    spread = np.sqrt(101 * (1 - data_share)) / data_share  # standard deviation of one count
    assert abs(resampled["mean"] - exact["mean"]) < 4 * spread / np.sqrt(200)
    for name, row in table.items():
        assert row["low"] <= row["median"] <= row["high"], name
        # each estimate is about (capacity + 1) / share, within the Monte-Carlo spread
        assert row["mean"] == pytest.approx(101 / row["share_inside"], rel=0.1), name
    vae = table["VAE (200 repeats)"]
    error = values["vae_relative_error"]
    assert error["relative_error"] == pytest.approx(vae["mean"] / exact["mean"] - 1)
    assert error["acceptable"] == (abs(error["relative_error"]) <= 0.15)
    assert error["above"] == (vae["mean"] > exact["mean"])
    assert values["single_estimate_spread"] == pytest.approx(np.sqrt((1 - data_share) / 101))


def test_quality_measures_are_sane(values):
    q = values["quality"]
    assert set(q) >= {"VAE", "single Gaussian", "kernel density estimate", "training data"}
    assert q["training data"]["energy_distance_test"] > 10 * q["training data"]["energy_distance_train"]
    assert values["data"]["differ"] == (values["data"]["p_value"] < values["data"]["significance"])
    assert q["single Gaussian"]["energy_distance_train"] > q["kernel density estimate"]["energy_distance_train"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("batch_size", 0, "'batch_size' = 0 is invalid: must be in [1, 2400]"),
    ("max_epochs", 0, "'max_epochs' = 0 is invalid: must be in [1, 5000]"),
    ("exit_size", 1000.0, "'exit_size' = 1000.0 is invalid: must be in [0.5, 20.0]"),
    ("repeats", 10**9, "'repeats' = 1000000000 is invalid: must be in [100, 100000]"),
    ("learning_rate", -0.01, "'learning_rate' = -0.01 is invalid: must be a finite number above 0"),
    ("learning_rate", float("nan"), "'learning_rate' = nan is invalid: must be a finite number above 0"),
    ("seed", -1, "'seed' = -1 is invalid: must be an integer in [0, 2**32)"),
])
def test_out_of_range_training_settings_stop_the_notebook_before_any_work(tmp_path, name, value, message):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook("task4_fire_evacuation", tmp_path, **{name: value})
    assert message in str(info.value)
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()
