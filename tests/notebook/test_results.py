"""The results file: every number the report quotes, with the parameters and the environment."""

import json
import shutil

import numpy as np
import pytest

from helpers.notebook.results import save_results


def test_results_hold_numbers_parameters_and_the_environment(tmp_path):
    path = save_results("taskx", {"value": np.float64(1.5), "array": np.arange(3)},
                        parameters={"seed": 1, "output_dir": str(tmp_path)}, output_dir=tmp_path)
    document = json.loads(path.read_text())
    assert document["results"] == {"value": 1.5, "array": [0, 1, 2]}
    assert document["parameters"] == {"seed": 1}  # where files go is not a result
    assert document["environment"]["numpy"] == np.__version__


def test_a_result_that_is_not_a_number_keeps_the_previous_file(tmp_path):
    path = save_results("taskx", {"value": 1.5}, output_dir=tmp_path)
    with pytest.raises(ValueError):
        save_results("taskx", {"bad": float("nan")}, output_dir=tmp_path)
    assert json.loads(path.read_text())["results"]["value"] == 1.5
    assert [p.name for p in path.parent.iterdir()] == ["taskx.json"]


def test_a_run_says_where_its_results_and_figures_went(tmp_path, capsys):
    (tmp_path / "figures" / "taskx").mkdir(parents=True)
    (tmp_path / "figures" / "taskx" / "a.pdf").write_bytes(b"%PDF")
    save_results("taskx", {"value": 1.5}, output_dir=tmp_path)
    assert capsys.readouterr().out == (f"Wrote {tmp_path}/results/taskx.json and 1 figures (PDF and PNG) in "
                                       f"{tmp_path}/figures/taskx/.\n")


def test_a_run_in_the_repository_names_its_outputs_from_the_folder_it_runs_in(monkeypatch, capsys):
    from helpers.core.files import ROOT

    monkeypatch.chdir(ROOT / "notebooks")  # where JupyterLab's kernel runs
    output = ROOT / "build" / "test-results-path"
    try:
        save_results("taskx", {"value": 1.5}, output_dir=output)
    finally:
        shutil.rmtree(output, ignore_errors=True)
    said = capsys.readouterr().out
    assert said.startswith("Wrote ../build/test-results-path/results/taskx.json and 0 figures")
    assert said.endswith("in ../build/test-results-path/figures/taskx/.\n")
