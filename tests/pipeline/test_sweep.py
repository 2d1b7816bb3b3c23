"""The sweep's points and the configuration a task takes from it."""

import re

import pytest

from helpers.pipeline import sweep

GRID = {"base": {"hidden": [128, 128], "latent_dim": 2, "lr": 0.001},
        "vary": {"hidden": [[32, 32], [128, 128]], "latent_dim": [1, 4]}}


def test_points_are_the_base_then_one_factor_at_a_time():
    points = sweep.points(GRID)
    assert [label for label, _ in points] == ["base", "hidden=32x32", "latent_dim=1", "latent_dim=4"]
    assert points[1][1] == {"hidden": [32, 32], "latent_dim": 2, "lr": 0.001}
    assert points[3][1]["latent_dim"] == 4 and points[3][1]["hidden"] == [128, 128]
    with pytest.raises(ValueError, match="varies 'depth', which the base configuration does not set"):
        sweep.points({"base": {}, "vary": {"depth": [1]}})


SUMMARY = {"chosen": "latent_dim=4", "rule": "minimize loss",
           "points": [{"label": "base", "parameters": {"latent_dim": 2, "seed": 0, "hidden": [8]}},
                      {"label": "latent_dim=4", "parameters": {"latent_dim": 4, "seed": 0, "hidden": [8]}}]}


def test_the_chosen_configuration_flows_in_and_overrides_are_named():
    names = ("latent_dim", "seed", "hidden")
    taken = sweep.chosen_configuration(SUMMARY, names, {"latent_dim": None, "seed": 0})
    assert taken["settings"] == {"latent_dim": 4, "seed": 0, "hidden": [8]} and taken["overridden"] == {}
    overridden = sweep.chosen_configuration(SUMMARY, names, {"latent_dim": 2, "hidden": None})
    assert overridden["settings"]["latent_dim"] == 2 and overridden["overridden"] == {"latent_dim": [2, 4]}
    with pytest.raises(KeyError, match="not settings of the sweep"):
        sweep.chosen_configuration(SUMMARY, names, {"depth": 3})
    with pytest.raises(KeyError, match="do not record"):
        sweep.chosen_configuration(SUMMARY, ("batch_size",))


def test_a_missing_summary_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make sweep"):
        sweep.load(tmp_path / "none.json")


def test_labels_from_any_grid_value_are_safe_for_folders_and_latex():
    grid = {"base": {"likelihood": "gaussian", "hidden": [8]},
            "vary": {"likelihood": ["$\\input{/etc/passwd}$ & 50%"], "hidden": [["../x", 1]]}}
    labels = [label for label, _ in sweep.points(grid)]
    assert labels[0] == "base" and len(labels) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_.=-]+", label) for label in labels), labels
