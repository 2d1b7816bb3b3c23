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
    vae, reference = evacuation["VAE ensemble (2 models)"], evacuation["resampled training data"]
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


def test_the_sweep_confirms_its_best_points_with_another_seed_and_chooses_on_the_mean(smoke_root, values):
    sweep = json.loads((smoke_root / "sweeps" / "task4_fire_evacuation.json").read_text())
    labels = [p["label"] for p in sweep["points"]]
    assert labels[:3] == ["base", "latent_dim=1", "likelihood=heteroscedastic"]
    losses = {p["label"]: p["metrics"]["validation_negative_elbo"] for p in sweep["points"]}
    best_two = sorted(labels[:3], key=losses.get)[:2]
    assert sorted(labels[3:]) == sorted(f"{label}_seed=1" for label in best_two)
    means = {label: np.mean([losses[label], losses[f"{label}_seed=1"]]) for label in best_two}
    confirmation = sweep["confirmation"]
    assert sweep["chosen"] == min(means, key=means.get) == confirmation["chosen"] == values["sweep"]["chosen"]
    assert confirmation["points"][sweep["chosen"]]["mean"] == pytest.approx(means[sweep["chosen"]])
    first, second = (confirmation["points"][label] for label in (confirmation["chosen"], confirmation["runner_up"]))
    error = np.sqrt(first["sd"] ** 2 / 2 + second["sd"] ** 2 / 2)
    assert confirmation["standard_error"] == pytest.approx(error)
    assert confirmation["tie"] == (second["mean"] - first["mean"] <= 2 * error)
    assert [p["chosen"] for p in sweep["points"]] == [p["label"] == sweep["chosen"] for p in sweep["points"]]
    # the notebook trains the chosen configuration: its latent dimension comes from the sweep
    chosen = next(p["parameters"] for p in sweep["points"] if p["chosen"])
    assert values["vae"]["config"]["latent_dim"] == chosen["latent_dim"] and values["sweep"]["overridden"] == {}


def test_the_best_point_with_the_other_likelihood_is_reported_beside_the_choice(smoke_root, values):
    sweep = json.loads((smoke_root / "sweeps" / "task4_fire_evacuation.json").read_text())
    other = values["other_likelihood"]
    assert {other["likelihood"], values["vae"]["config"]["likelihood"]} == {"gaussian", "heteroscedastic"}
    scan = [p for p in sweep["points"][:3] if p["parameters"].get("likelihood", "gaussian") == other["likelihood"]]
    assert other["label"] == min(scan, key=lambda p: p["metrics"]["validation_negative_elbo"])["label"]
    exact = values["critical_number"]["training data (exact, negative binomial)"]["mean"]
    assert other["relative_error"] == pytest.approx(other["mean"] / exact - 1)


def test_the_share_inside_is_split_between_the_decoders_means_and_the_noise(results, values):
    budgets, chosen = values["entrance_budget"], values["vae"]["config"]["likelihood"]
    assert set(budgets) == {"gaussian", "heteroscedastic"} and budgets[chosen]["models"] == 2
    # One model's global sigma is the same for every code; models of an ensemble each have their own, and the
    # codes inside weigh them differently. (A tiny smoke model may put no mean inside.)
    if budgets["gaussian"]["models"] == 1 and budgets["gaussian"]["sigma_metres_inside"] is not None:
        assert budgets["gaussian"]["sigma_metres_inside"] == pytest.approx(budgets["gaussian"]["sigma_metres"])
    # the ensemble's samples are those the quality table drew (another stream): the same share within noise
    share = values["quality"]["VAE ensemble (2 models)"]["share_inside"]
    error = np.sqrt(share * (1 - share) / results["parameters"]["n_quality_samples"])
    assert abs(budgets[chosen]["samples_inside"] - share) < 5 * np.sqrt(2) * error
    data = values["data"]
    assert data["distinct_training"] == 1510 and data["rows_repeated_training"] == 2236


def test_the_ensemble_holds_one_model_per_seed_and_the_sweeps_runs_are_its_members(smoke_root, values):
    vae = values["vae"]
    assert vae["seeds"] == [0, 1] and list(vae["members"]) == ["0", "1"]
    first = vae["members"]["0"]
    assert first["best_epoch"] == int(np.argmin(vae["validation_curve"])) + 1
    assert len(vae["test_curve"]) == first["epochs_trained"]
    assert vae["members"]["0"]["validation_negative_elbo"] != vae["members"]["1"]["validation_negative_elbo"]
    # seed 1 of the chosen configuration is the model the sweep trained to confirm it
    sweep = json.loads((smoke_root / "sweeps" / "task4_fire_evacuation.json").read_text())
    again = next(p for p in sweep["points"] if p["label"] == f"{sweep['chosen']}_seed=1")
    assert again["metrics"]["epochs_trained"] == vae["members"]["1"]["epochs_trained"]
    assert again["metrics"]["sigma_metres"] == pytest.approx(vae["members"]["1"]["sigma_metres"])


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
    pooled = values["ensemble_critical_number"]
    means = [table[f"VAE, seed {seed}"]["mean"] for seed in (0, 1)]
    assert pooled["model_means"] == pytest.approx(means) and pooled["mean"] == pytest.approx(np.mean(means))
    assert pooled["between_models"] == pytest.approx(np.std(means, ddof=1))
    assert pooled["relative_error"] == pytest.approx(pooled["mean"] / exact["mean"] - 1)
    low, high = pooled["interval"]
    assert pooled["verdict"] == ("within" if -0.15 <= low and high <= 0.15 else
                                 "outside" if high < -0.15 or low > 0.15 else "undecided")
    assert values["single_estimate_spread"] == pytest.approx(np.sqrt((1 - data_share) / 101))


def test_quality_measures_are_sane(values):
    q = values["quality"]
    assert set(q) >= {"VAE ensemble (2 models)", "single Gaussian", "kernel density estimate", "training data"}
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
