"""The sweep's points and the configuration a task takes from it."""

import re

import numpy as np
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


SLOW_POINT = '''
import os, time
from pathlib import Path
from helpers.notebook import check_parameters, check_ranges, path, save_results, between
params = check_parameters(globals())
check_ranges(params, {"size": between(1, 9), "folder": path(), "output_dir": path()})
(Path(folder) / f"kernel-{size}.pid").write_text(str(os.getpid()))
time.sleep(60)
save_results("point", {"loss": size}, parameters=params, output_dir=output_dir)
'''


def test_sigterm_to_a_sweep_stops_its_points_and_their_kernels_and_writes_nothing_after(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import nbformat

    from helpers.core.files import ROOT

    nb = nbformat.v4.new_notebook(metadata={"mlcms_metrics": ["loss"],
                                            "kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(f'size: int = 1\nfolder: str = "{tmp_path}"\noutput_dir: str = "."',
                                          metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(SLOW_POINT)]
    nbformat.write(nb, tmp_path / "slow.ipynb")
    (tmp_path / "grid.yaml").write_text(json.dumps({"notebook": str(tmp_path / "slow.ipynb"), "base": {"size": 1},
                                                    "vary": {"size": [2, 3]}, "choose": {"minimize": "loss"}}))
    sweep_run = subprocess.Popen([sys.executable, "-m", "helpers.pipeline.sweep", str(tmp_path / "grid.yaml"),
                                  str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, "MLCMS_WORKERS": "2"})
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("kernel-*.pid"))) < 2:
        assert sweep_run.poll() is None and time.monotonic() < deadline, sweep_run.communicate()
        time.sleep(0.3)
    kernels = [int(path.read_text()) for path in tmp_path.glob("kernel-*.pid")]
    sweep_run.send_signal(signal.SIGTERM)
    _, err = sweep_run.communicate(timeout=60)
    assert sweep_run.returncode == 130 and "the sweep" in err and "was stopped" in err
    time.sleep(2)
    for pid in kernels:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not list((tmp_path / "out").rglob("point.json")) and not (tmp_path / "out.json").exists()


def _row(label, value, failed=False):
    return {"label": label, **({"failed": "boom"} if failed else {"metrics": {"loss": value}})}


def test_the_confirmed_choice_is_made_on_the_mean_over_seeds():
    confirmed = [_row("a", 1.0), _row("b", 1.2)]
    again = {"a_seed=1": _row("a_seed=1", 1.6), "a_seed=2": _row("a_seed=2", 1.5),
             "b_seed=1": _row("b_seed=1", 1.1), "b_seed=2": _row("b_seed=2", 1.0)}
    choice = sweep.confirmed_choice(confirmed, again, [1, 2], "loss", "minimize")
    assert choice["chosen"] == "b" and choice["runner_up"] == "a"  # a was best on one seed, b on the mean
    assert choice["points"]["b"]["mean"] == pytest.approx(1.1) and choice["points"]["a"]["values"] == [1.0, 1.6, 1.5]
    assert choice["tie"]  # b's lead, 0.27, is within twice the standard error of the difference, 0.39


def test_a_lead_beyond_the_spread_over_seeds_is_a_choice():
    confirmed = [_row("a", 1.0), _row("b", 2.0)]
    again = {"a_seed=1": _row("a_seed=1", 1.01), "a_seed=2": _row("a_seed=2", 0.99),
             "b_seed=1": _row("b_seed=1", 2.01), "b_seed=2": _row("b_seed=2", 1.99)}
    choice = sweep.confirmed_choice(confirmed, again, [1, 2], "loss", "minimize")
    assert choice["chosen"] == "a" and not choice["tie"]


def test_a_lead_within_the_spread_over_seeds_is_reported_as_a_tie():
    confirmed = [_row("a", 1.0), _row("b", 1.05)]
    again = {"a_seed=1": _row("a_seed=1", 1.3), "b_seed=1": _row("b_seed=1", 1.2)}
    choice = sweep.confirmed_choice(confirmed, again, [1], "loss", "minimize")
    assert choice["chosen"] == "b" and choice["tie"]
    expected = np.sqrt(np.var([1.0, 1.3], ddof=1) / 2 + np.var([1.05, 1.2], ddof=1) / 2)
    assert choice["standard_error"] == pytest.approx(expected)


def test_a_failed_seed_is_left_out_of_its_points_mean():
    confirmed = [_row("a", 1.0), _row("b", 2.0)]
    again = {"a_seed=1": _row("a_seed=1", 0, failed=True), "b_seed=1": _row("b_seed=1", 2.2)}
    choice = sweep.confirmed_choice(confirmed, again, [1], "loss", "minimize")
    assert choice["points"]["a"]["values"] == [1.0] and choice["points"]["a"]["sd"] is None and not choice["tie"]


def test_the_best_point_of_a_kind_leaves_out_the_seed_runs():
    summary = {"rule": "minimize loss", "points": [
        {"label": "base", "parameters": {"likelihood": "gaussian"}, "metrics": {"loss": 2.0}},
        {"label": "likelihood=heteroscedastic", "parameters": {"likelihood": "heteroscedastic"},
         "metrics": {"loss": 1.0}},
        {"label": "hidden=8", "parameters": {"likelihood": "gaussian"}, "metrics": {"loss": 1.5}},
        {"label": "hidden=8_seed=1", "parameters": {"likelihood": "gaussian"}, "metrics": {"loss": 0.5}},
        {"label": "broken", "parameters": {"likelihood": "gaussian"}, "failed": "boom"}]}
    assert sweep.best_point(summary, likelihood="gaussian")["label"] == "hidden=8"
    assert sweep.best_point(summary)["label"] == "likelihood=heteroscedastic"
    assert sweep.best_point(summary, likelihood="bernoulli") is None
