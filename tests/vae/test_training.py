"""Training with model selection on a validation set: stopping, best weights, snapshots kept as
weights, the test set measured but never choosing, caching, and configuration errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers.vae import inference as vae_inference  # noqa: E402
from helpers.vae.training import TrainingConfig, train_vae  # noqa: E402


def _shifted_data():
    """Training data in [0, 0.5], validation data in [0.5, 1]: the validation loss first falls, then rises."""
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 0.5, size=(64, 20)).astype(np.float32),
            rng.uniform(0.5, 1, size=(256, 20)).astype(np.float32))


def _config(**changes):
    base = dict(hidden=(32,), max_epochs=20, min_epochs=20, patience=1, learning_rate=0.01, batch_size=16)
    return TrainingConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def long_run():
    """Twenty epochs with the weights of every epoch kept."""
    x, validation = _shifted_data()
    return train_vae(x, validation, _config(snapshot_epochs=range(1, 21)), x_test=validation[:40], verbose=0)


def test_the_best_validation_epoch_is_kept_and_restored(long_run):
    losses = long_run.history["validation_loss"]
    assert long_run.best_epoch == int(np.argmin(losses)) + 1
    assert long_run.best_epoch < long_run.epochs_trained == 20  # the validation loss rose at the end
    def same(a, b):
        return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert same(long_run.model.get_weights(), long_run.snapshot_weights[long_run.best_epoch])
    assert not same(long_run.model.get_weights(), long_run.snapshot_weights[20])


def test_snapshot_models_have_the_weights_of_their_epoch(long_run):
    x, validation = _shifted_data()
    early, late = long_run.at_epoch(1), long_run.at_epoch(long_run.best_epoch)
    assert vae_inference.negative_elbo(late, validation)["negative_elbo"] \
        < vae_inference.negative_elbo(early, validation)["negative_elbo"]
    with pytest.raises(KeyError, match="no weights were kept after epoch 21"):
        long_run.at_epoch(21)


def test_the_test_set_is_measured_each_epoch_but_chooses_nothing(long_run):
    x, validation = _shifted_data()
    assert len(long_run.history["test_loss"]) == 20
    first = vae_inference.negative_elbo(long_run.at_epoch(1), validation[:40])["negative_elbo"]
    assert long_run.history["test_loss"][0] == pytest.approx(first, rel=0.05)  # one posterior sample each
    without_test = train_vae(x, validation, _config(), verbose=0)
    assert without_test.history["validation_loss"] == long_run.history["validation_loss"]
    assert without_test.best_epoch == long_run.best_epoch and "test_loss" not in without_test.history
    assert set(long_run.history) >= {"training_loss", "validation_loss", "training_kl", "validation_reconstruction"}


def test_training_stops_when_the_validation_loss_stops_improving():
    x, validation = _shifted_data()
    trained = train_vae(x, validation, _config(min_epochs=0, patience=3), verbose=0)
    assert trained.stopped_before_limit
    assert trained.epochs_trained == trained.best_epoch + 3
    losses = trained.history["validation_loss"]
    assert min(losses[trained.best_epoch:]) >= losses[trained.best_epoch - 1]
    not_before = train_vae(x, validation, _config(min_epochs=19, patience=3), verbose=0)
    assert not_before.epochs_trained >= 19


def test_a_cosine_schedule_takes_the_learning_rate_to_zero_over_the_epochs():
    x, validation = _shifted_data()
    kept = (1, 2, 19, 20)
    constant = train_vae(x, validation, _config(snapshot_epochs=kept), verbose=0)
    cosine = train_vae(x, validation, _config(schedule="cosine", snapshot_epochs=kept), verbose=0)

    def largest_change(run, before, after):
        return max(np.abs(a - b).max() for a, b in zip(run.snapshot_weights[before], run.snapshot_weights[after],
                                                        strict=True))

    assert float(constant.model.optimizer.learning_rate) == pytest.approx(0.01)
    assert float(cosine.model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    # The last epoch runs at rates below 0.01 * (1 + cos(19 pi / 20)) / 2, about 0.6 % of the start; an Adam
    # step is about as large as its rate, so the weights barely move, while the first epoch moves them fully.
    assert largest_change(cosine, 19, 20) < 0.05 * largest_change(constant, 19, 20)
    assert largest_change(cosine, 1, 2) == pytest.approx(largest_change(constant, 1, 2), rel=0.1)


def test_training_is_deterministic_and_the_cache_is_reused_extended_or_invalidated(tmp_path, capsys):
    x, validation = _shifted_data()
    config = _config(max_epochs=3, min_epochs=3, snapshot_epochs=(1,))
    first = train_vae(x, validation, config, cache_dir=tmp_path, verbose=0)
    again = train_vae(x, validation, config, verbose=0)
    assert again.history == first.history
    cached = train_vae(x, validation, config, cache_dir=tmp_path, verbose=0)
    assert cached.from_cache and not first.from_cache and cached.history == first.history
    np.testing.assert_array_equal(vae_inference.generate(cached.model, 3), vae_inference.generate(first.model, 3))
    # More snapshot epochs: the same model is trained again, keeping both sets; then both are cached.
    more = train_vae(x, validation, config.replace(snapshot_epochs=(2,)), cache_dir=tmp_path, verbose=0)
    assert not more.from_cache and sorted(more.snapshot_weights) == [1, 2] and more.history == first.history
    assert train_vae(x, validation, config, cache_dir=tmp_path, verbose=0).from_cache
    assert len(list(tmp_path.iterdir())) == 1
    changed = train_vae(x, validation, config.replace(kl_weight=0.5), cache_dir=tmp_path, verbose=0)
    assert not changed.from_cache and len(list(tmp_path.iterdir())) == 2
    # A broken entry is a miss: one line says so, and the model is trained again.
    entry = next(p for p in tmp_path.iterdir() if json.loads((p / "training.json").read_text())["settings"]
                 ["kl_weight"] == 1.0)
    (entry / "weights.npz").write_bytes(b"not an archive")
    capsys.readouterr()
    rebuilt = train_vae(x, validation, config, cache_dir=tmp_path, verbose=0)
    assert not rebuilt.from_cache and rebuilt.history == first.history
    assert "could not be read" in capsys.readouterr().err


@pytest.mark.parametrize("manifest", ["kept", "forged"])
def test_a_cached_entry_that_contradicts_its_configuration_is_trained_again(tmp_path, capsys, manifest):
    import hashlib

    from helpers.core.cache import COMPLETE

    x, validation = _shifted_data()
    config = _config(max_epochs=3, min_epochs=3)
    first = train_vae(x, validation, config, cache_dir=tmp_path, verbose=0)
    entry = next(tmp_path.iterdir())
    record = json.loads((entry / "training.json").read_text())
    record["best_epoch"] = 7  # the edit of an outside review: a best epoch after the last
    (entry / "training.json").write_text(json.dumps(record))
    if manifest == "forged":  # the manifest made to fit: the entry's own contradiction still shows
        listed = json.loads((entry / COMPLETE).read_text())
        listed["files"]["training.json"] = hashlib.sha256((entry / "training.json").read_bytes()).hexdigest()
        (entry / COMPLETE).write_text(json.dumps(listed))
    capsys.readouterr()
    again = train_vae(x, validation, config, cache_dir=tmp_path, verbose=0)
    said = capsys.readouterr().err
    assert not again.from_cache and again.best_epoch == first.best_epoch <= 3 and again.history == first.history
    assert "could not be read" in said
    assert ("training.json differ from what was written" if manifest == "kept" else "best epoch 7") in said
    assert train_vae(x, validation, config, cache_dir=tmp_path, verbose=0).from_cache


def test_a_diverging_run_stops_with_a_clear_error():
    x, validation = _shifted_data()
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_vae(x, validation, _config(learning_rate=1e12, max_epochs=5, min_epochs=0), verbose=0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"max_epochs": 0}, "max_epochs must be an integer of at least 1"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"learning_rate": -0.01}, "learning_rate must be a number above 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"min_epochs": 30}, "min_epochs must be an integer from 0 to 20"),
        ({"hidden": ()}, "hidden must name 1 to 8 layer sizes, got 0"),
        ({"hidden": (4096,) * 100}, "hidden must name 1 to 8 layer sizes, got 100"),
        ({"hidden": (8192,)}, "every hidden layer size must be an integer from 1 to 4096, got 8192"),
        ({"hidden": (4096, 4096, 4096)}, "hold 33,554,432 weights between them; at most 16,777,216"),
        ({"snapshot_epochs": (0,)}, "snapshot epoch 0 is outside"),
        ({"schedule": "step"}, "schedule must be one of \\('constant', 'cosine'\\), got 'step'"),
        ({"likelihood": "bernoulli", "value_range": (-1.0, 1.0)}, "Bernoulli likelihood needs data in \\[0, 1\\]"),
    ],
)
def test_bad_configurations_are_rejected(changes, match):
    with pytest.raises(ValueError, match=match):
        _config(**changes)


def test_the_largest_allowed_hidden_layers_pass():
    assert _config(hidden=(4096, 4096)).hidden == (4096, 4096)
    assert _config(hidden=[64] * 8).hidden == (64,) * 8


def test_bad_data_is_rejected():
    x, validation = _shifted_data()
    with pytest.raises(ValueError, match="x_train must be 2-D"):
        train_vae(np.zeros((4, 28, 28)), validation, _config())
    with pytest.raises(ValueError, match="x_train must lie in \\[0, 1\\]"):
        train_vae(x + 2, validation, _config())
    with pytest.raises(ValueError, match="x_validation must have 20 columns"):
        train_vae(x, validation[:, :5], _config())
    with pytest.raises(ValueError, match="NaN or infinite"):
        train_vae(np.where(x > 0.4, np.nan, x), validation, _config())
    with pytest.raises(TypeError, match="config must be a TrainingConfig"):
        train_vae(x, validation, {"latent_dim": 2})


def test_other_value_ranges_are_checked_against_the_configured_range():
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="must lie in \\[-1, 1\\].*training set's scaler"):
        train_vae(x * 3, x, _config(value_range=(-1.0, 1.0)))
    trained = train_vae(x, x, _config(value_range=(-1.0, 1.0), hidden=(8,), max_epochs=2, min_epochs=0), verbose=0)
    assert np.isfinite(trained.history["validation_loss"]).all()


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_same_code_trains_on_every_keras_backend(backend):
    """KERAS_BACKEND is fixed per process, so each run happens in a child process. PyTorch allows
    one step per compiled call only; JAX (like TensorFlow) runs a whole epoch in one."""
    pytest.importorskip(backend)
    script = (
        "import numpy as np\n"
        "import keras\n"
        "from helpers.vae import model as vae\n"
        "from helpers.vae.training import TrainingConfig, compile_for_training, train_vae\n"
        f"assert keras.backend.backend() == {backend!r}\n"
        "x = np.random.default_rng(0).uniform(size=(512, 20)).astype(np.float32)\n"
        "config = TrainingConfig(hidden=(16,), max_epochs=4, min_epochs=0, snapshot_epochs=(1,))\n"
        "losses = train_vae(x[:384], x[384:], config, verbose=0).history['validation_loss']\n"
        "print(compile_for_training(vae.VAE(20, 2, (16,)), config, 384).steps_per_execution)\n"
        "print(losses[0], losses[-1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": backend},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    steps, first, last = done.stdout.split()[-3:]
    assert int(steps) == (1 if backend == "torch" else 3)  # 384 samples in batches of 128
    assert float(last) < float(first)


def test_the_tensorflow_pipeline_runs_on_its_own_thread_and_feeds_the_same_batches():
    """fit_inputs' tf.data pipelines run without tf.data's autotuning, on one private thread (whose
    threads take cores from the training step otherwise); the batches of each epoch are those of the same
    pipeline with tf.data's default options, so the trained weights do not change."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the tf.data pipelines are TensorFlow's")
    import tensorflow as tf

    from helpers.vae.training import fit_inputs

    x = np.random.default_rng(0).uniform(size=(300, 5)).astype(np.float32)
    config = TrainingConfig(batch_size=64, seed=3)
    training, validation = fit_inputs(x[:250], x[250:], config)
    dataset = training["x"]
    options = dataset.options()
    assert options.autotune.enabled is False and options.threading.private_threadpool_size == 1
    assert validation["validation_data"].options().threading.private_threadpool_size == 1
    default = (tf.data.Dataset.from_tensor_slices(x[:250]).shuffle(250, seed=3, reshuffle_each_iteration=True)
               .batch(64))
    for _ in range(2):  # two epochs: reshuffled alike
        ours, theirs = [b.numpy() for b in dataset], [b.numpy() for b in default]
        assert [b.shape[0] for b in ours] == [64, 64, 64, 58]
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert not np.array_equal(ours[0], x[:64])  # shuffled


def test_a_pool_worker_says_it_is_starting_before_it_imports_keras(tmp_path):
    checked = subprocess.run([sys.executable, "-c", "import sys, helpers.vae.pool_job; "
                              "print(sorted({'keras', 'tensorflow', 'jax'} & set(sys.modules)))"],
                             capture_output=True, text=True, check=True)
    assert checked.stdout.strip() == "[]"
    from helpers.vae import pool_job

    progress = tmp_path / "progress.txt"
    with pytest.raises(ValueError, match="hidden must name"):  # the configuration is read after the import
        pool_job.train_into_cache(None, None, None, {"hidden": ()}, None, str(progress))
    assert progress.read_text() == pool_job.STARTING


def test_a_stopped_side_by_side_training_shows_what_was_stopped(tmp_path, monkeypatch, capsys):
    from helpers.core.executor import Interrupted
    from helpers.vae import training

    def interrupted(fn, jobs, **settings):
        progress_file = next(iter(jobs.values()))[-1]
        with open(progress_file, "w") as progress:
            progress.write("epoch 59 of at most 60; best validation loss 1.00 (epoch 58)")
        raise Interrupted("interrupted: stopping 2 of 2 runs")

    monkeypatch.setattr(training, "run_all", interrupted)
    x, validation = _shifted_data()
    with pytest.raises(Interrupted):
        training.train_many(x, validation, {"a": _config(seed=1), "b": _config(seed=2)}, cache_dir=tmp_path)
    board = capsys.readouterr().err.splitlines()
    assert board[-2:] == ["  a  stopped (epoch 59 of at most 60; best validation loss 1.00 (epoch 58))",
                          "  b  stopped"]
