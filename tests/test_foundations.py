"""The shared foundations: the input validator, the cache, hold-out splits, the dependency
finder and the notebook rules."""

import json
import os

import numpy as np
import pytest

from helpers import cache, deps, notebook_rules, splits
from helpers.validation import validate_data


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (np.zeros(3), {}, "must be 2-D"),
        (np.array([["a"]]), {}, "must be numeric"),
        (np.zeros((1, 2)), {}, "needs at least 2 samples"),
        (np.zeros((4, 3)), {"n_features": 2}, "must have 2 columns"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), {}, "contains 1 NaN or infinite"),
        (np.full((3, 2), 2.0), {"value_range": (0.0, 1.0)}, "must lie in \\[0, 1\\].*scale images by 1/255"),
    ],
)
def test_the_validator_names_what_is_wrong(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate_data(value, **kwargs)


def test_the_validator_returns_the_requested_dtype():
    checked = validate_data([[1, 2], [3, 4]], dtype=np.float32)
    assert checked.dtype == np.float32 and checked.shape == (2, 2)


def test_holdout_splits_are_seeded_disjoint_and_complete():
    fit, validation = splits.holdout(100, 0.2, seed=1)
    assert len(validation) == 20 and len(fit) == 80
    assert np.array_equal(np.sort(np.concatenate([fit, validation])), np.arange(100))
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(validation) > 0)
    np.testing.assert_array_equal(splits.holdout(100, 0.2, seed=1)[1], validation)
    assert not np.array_equal(splits.holdout(100, 0.2, seed=2)[1], validation)
    assert len(splits.holdout(60_000, 10_000, seed=0)[1]) == 10_000
    for size in (0, 100, 1.0, True):
        with pytest.raises(ValueError):
            splits.holdout(100, size, seed=0)


def test_digest_changes_with_every_part(tmp_path):
    file = tmp_path / "code.py"
    file.write_text("a = 1\n")
    base = cache.digest({"x": 1}, np.zeros(3), file)
    assert base == cache.digest({"x": 1}, np.zeros(3), file)
    assert base != cache.digest({"x": 2}, np.zeros(3), file)
    assert base != cache.digest({"x": 1}, np.zeros(3, dtype=np.float32), file)
    assert base != cache.digest({"x": 1}, np.zeros((3, 1)), file)
    file.write_text("a = 2\n")
    assert base != cache.digest({"x": 1}, np.zeros(3), file)


def test_the_cache_writes_whole_entries_or_none(tmp_path):
    store = cache.FolderCache(tmp_path, "thing", log=lambda message: None)
    assert store.load("k", lambda folder: (folder / "v").read_text()) is None

    def failing(folder):
        (folder / "v").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.store("k", failing)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left
    store.store("k", lambda folder: (folder / "v").write_text("whole"))
    assert store.load("k", lambda folder: (folder / "v").read_text()) == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["thing-k"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "thing-k" / "v").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_broken_entry_is_a_miss_that_says_so(tmp_path):
    said = []
    store = cache.FolderCache(tmp_path, "thing", log=said.append)
    store.store("k", lambda folder: (folder / "v").write_text("{"))
    assert store.load("k", lambda folder: json.loads((folder / "v").read_text())) is None
    assert len(said) == 1 and "could not be read" in said[0] and not (tmp_path / "thing-k").exists()
    assert cache.FolderCache(None, "x").store("k", lambda folder: None) is None  # a disabled cache


def test_dependencies_are_derived_from_the_code():
    found = deps.dependencies("notebooks/task2_diffusion_maps.ipynb")
    assert "helpers/diffusion_maps.py" in found["helpers"] and "helpers/kernels.py" in found["helpers"]
    assert "helpers/vae.py" not in found["helpers"]
    assert found["data"] == ["data_DMAP_PCA_vadere.txt"] and found["sweeps"] == []
    task3 = deps.dependencies("notebooks/task3_vae_mnist.ipynb")
    assert task3["data"] == ["mnist.npz"] and "helpers/vae_training.py" in task3["helpers"]
    task4 = deps.dependencies("notebooks/task4_fire_evacuation.ipynb")
    assert task4["sweeps"] == ["build/sweeps/task4_fire_evacuation.json"]
    assert task4["data"] == ["FireEvac_test_set.npy", "FireEvac_train_set.npy"]
    rules = deps.make_rules("params/sweeps/task4_fire_evacuation.yaml")
    assert "SWEEP_NOTEBOOK_task4_fire_evacuation := notebooks/sweeps/task4_vae_config.ipynb" in rules
    assert deps.helper_closure("from helpers import pca") == ["__init__", "pca", "validation"]


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
