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


def _grid(tmp_path, text: str):
    path = tmp_path / "grid.yaml"
    path.write_text("notebook: notebooks/sweeps/task4_vae_config.ipynb\nbase: {latent_dim: 2}\n" + text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("vary: {latent_dim: [1]}\nchoose: {minimize: validation_negative_elbow}\n",
     "chooses by 'validation_negative_elbow' \\(did you mean 'validation_negative_elbo'\\?\\), which "
     "task4_vae_config.ipynb does not record; it records best_epoch, "),
    ("vary: {latent_dim: 4}\nchoose: {minimize: validation_negative_elbo}\n",
     "vary: latent_dim must be a list of the values to try, got 4"),
    ("choose: {minimize: a, maximize: b}\n", "choose must be one rule, minimize: METRIC or maximize: METRIC"),
    ("choose: minimize\n", "choose must be one rule, .* got 'minimize'"),
    ("choose: {minimize: sigma}\nrepeat: 3\n", "hold nothing but notebook, base, vary and choose; it also has"),
])
def test_a_grid_that_makes_no_sense_is_refused_before_the_first_point(tmp_path, text, message):
    with pytest.raises(sweep.ParameterError, match=message):
        sweep.run(_grid(tmp_path, text), tmp_path / "out", log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_the_sweep_notebook_declares_the_metrics_it_records():
    """The declaration the grid's rule is checked against is the list evaluate_vae returns."""
    import inspect
    import json

    from helpers.core.files import ROOT
    from helpers.evacuation import position_vae

    declared = json.loads((ROOT / "notebooks/sweeps/task4_vae_config.ipynb").read_text())["metadata"]["mlcms_metrics"]
    returned = re.findall(r'"(\w+)":', inspect.getsource(position_vae.evaluate_vae).split("return {", 1)[1])
    assert sorted(declared) == sorted({*returned, "share_inside", "energy_distance_test", "energy_distance_train"})
