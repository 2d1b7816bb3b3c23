"""The VAE: its loss terms against independent computations, training, caching and errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

keras = pytest.importorskip("keras")

from helpers import vae  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    """A small MNIST subset in [0, 1], flattened."""
    from helpers import data

    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    return (x_train[:1024].reshape(-1, 784) / 255.0).astype(np.float32), \
           (x_test[:256].reshape(-1, 784) / 255.0).astype(np.float32), y_test[:256]


def test_shapes():
    model = vae.VAE(784, latent_dim=3, hidden=(32, 16))
    x = np.random.default_rng(0).uniform(size=(5, 784)).astype(np.float32)
    out = model(x)
    assert tuple(out["z_mean"].shape) == (5, 3) and tuple(out["z_log_var"].shape) == (5, 3)
    assert tuple(out["decoded"].shape) == (5, 784)
    assert vae.generate(model, 7).shape == (7, 784)
    assert vae.encode_mean(model, x).shape == (5, 3)
    assert model.sigma == pytest.approx(1.0)


def test_gaussian_log_likelihood_matches_scipy():
    rng = np.random.default_rng(1)
    x, mean = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    log_sigma = -0.7
    ours = keras.ops.convert_to_numpy(vae.gaussian_nll(x, mean, log_sigma))
    expected = -stats.norm(mean, np.exp(log_sigma)).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_bernoulli_log_likelihood_matches_scipy():
    rng = np.random.default_rng(2)
    x = (rng.uniform(size=(3, 8)) > 0.5).astype(np.float32)
    logits = rng.normal(size=(3, 8)).astype(np.float32)
    ours = keras.ops.convert_to_numpy(vae.bernoulli_nll(x, logits))
    expected = -stats.bernoulli(1 / (1 + np.exp(-logits))).logpmf(x).sum(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_analytic_kl_matches_monte_carlo():
    rng = np.random.default_rng(3)
    mean, log_var = rng.normal(size=(1, 3)), rng.normal(scale=0.5, size=(1, 3))
    analytic = float(keras.ops.convert_to_numpy(vae.gaussian_kl(mean, log_var))[0])
    std = np.exp(0.5 * log_var)
    z = mean + std * rng.standard_normal((400_000, 3))
    log_q = stats.norm(mean, std).logpdf(z).sum(axis=1)
    log_p = stats.norm(0, 1).logpdf(z).sum(axis=1)
    monte_carlo = np.mean(log_q - log_p)
    assert analytic == pytest.approx(monte_carlo, abs=4 * np.std(log_q - log_p) / np.sqrt(len(z)))


def _config(**changes):
    base = dict(latent_dim=2, hidden=(64, 64), max_epochs=3, min_epochs=0, patience=5, snapshot_epochs=(1, 2),
                n_shown=4, seed=0)
    return vae.TrainingConfig(**{**base, **changes})


def test_training_lowers_the_loss_and_keeps_snapshots(digits, tmp_path):
    x_train, x_test, _ = digits
    trained = vae.train_vae(x_train, x_test, _config(), cache_dir=tmp_path, verbose=0)
    losses = trained.history["val_loss"]
    assert losses[-1] < losses[0]
    assert set(trained.snapshots) == {"epoch_1", "epoch_2", "converged"}
    assert trained.snapshots["converged"]["latent"].shape == (256, 2)
    assert trained.snapshots["epoch_1"]["generated"].shape == (4, 784)
    terms = vae.negative_elbo(trained.model, x_test)
    assert terms["negative_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
    assert terms["kl"] > 0


def test_training_is_deterministic_and_the_cache_is_reused_or_invalidated(digits, tmp_path):
    x_train, x_test, _ = digits
    first = vae.train_vae(x_train, x_test, _config(max_epochs=2), cache_dir=tmp_path, verbose=0)
    again = vae.train_vae(x_train, x_test, _config(max_epochs=2), cache_dir=None, verbose=0)
    np.testing.assert_allclose(again.history["loss"], first.history["loss"], rtol=1e-6)
    cached = vae.train_vae(x_train, x_test, _config(max_epochs=2), cache_dir=tmp_path, verbose=0)
    assert cached.from_cache and not first.from_cache
    np.testing.assert_allclose(vae.generate(cached.model, 3), vae.generate(first.model, 3), rtol=1e-6)
    assert cached.history == first.history
    changed = vae.train_vae(x_train, x_test, _config(max_epochs=2, kl_weight=0.5), cache_dir=tmp_path, verbose=0)
    assert not changed.from_cache
    assert len(list(tmp_path.iterdir())) == 2


def test_save_and_load_round_trip(tmp_path):
    model = vae.VAE(20, latent_dim=2, hidden=(8,), likelihood="bernoulli")
    x = np.random.default_rng(0).uniform(size=(3, 20)).astype(np.float32)
    model(x)
    model.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert loaded.likelihood == "bernoulli" and loaded.latent_dim == 2
    np.testing.assert_allclose(vae.encode_mean(loaded, x), vae.encode_mean(model, x), rtol=1e-6)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((4, 28, 28)), "must be 2-D"),
        (np.full((4, 10), 2.0), "must lie in \\[0, 1\\]"),
        (np.array([[0.5, np.nan]]), "NaN or infinite"),
    ],
)
def test_bad_input_is_rejected(x, match):
    with pytest.raises(ValueError, match=match):
        vae.train_vae(x, x, _config())


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="likelihood must be one of"):
        vae.VAE(10, likelihood="poisson")
    with pytest.raises(ValueError, match="kl_weight must be non-negative"):
        vae.VAE(10, kl_weight=-1)


def test_other_value_ranges_are_checked_against_the_configured_range():
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        vae.train_vae(x, x, _config())
    with pytest.raises(ValueError, match="must lie in \\[-1, 1\\].*training set's scaler"):
        vae.train_vae(x * 3, x, _config(value_range=(-1.0, 1.0)))
    with pytest.raises(ValueError, match="Bernoulli likelihood needs data in \\[0, 1\\]"):
        _config(likelihood="bernoulli", value_range=(-1.0, 1.0))
    trained = vae.train_vae(x, x, _config(value_range=(-1.0, 1.0), hidden=(8,), max_epochs=2), verbose=0)
    assert np.isfinite(trained.history["val_loss"]).all()


def test_sample_draws_the_likelihood_noise_around_the_decoded_mean():
    model = vae.VAE(3, latent_dim=2, hidden=(8,))
    model.build((None, 3))
    model.log_sigma.assign(np.log(0.25))
    draws = vae.sample(model, 200_000, seed=1, batch_size=30_000)
    means = vae.generate(model, 200_000, seed=1)  # the same latent draws: the first numbers of the stream
    assert draws.shape == (200_000, 3) and draws.dtype == np.float32
    noise = draws - means
    np.testing.assert_allclose(noise.std(axis=0), 0.25, rtol=0.01)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.005)
    np.testing.assert_array_equal(vae.sample(model, 10, seed=4), vae.sample(model, 10, seed=4))
    assert vae.sample(model, 0).shape == (0, 3)
    binary = vae.VAE(5, latent_dim=2, hidden=(8,), likelihood="bernoulli")
    binary.build((None, 5))
    assert set(np.unique(vae.sample(binary, 1000))) <= {0.0, 1.0}


def test_the_same_code_trains_on_jax(tmp_path):
    """KERAS_BACKEND is fixed per process, so the JAX run happens in a child process."""
    pytest.importorskip("jax")
    script = (
        "import numpy as np\n"
        "from helpers import vae\n"
        "import keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        "x = np.random.default_rng(0).uniform(size=(512, 20)).astype(np.float32)\n"
        "config = vae.TrainingConfig(hidden=(16,), max_epochs=4, min_epochs=0, snapshot_epochs=(1,), n_shown=3)\n"
        "losses = vae.train_vae(x, x[:128], config, verbose=0).history['val_loss']\n"
        "print(losses[0], losses[-1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": "jax"},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    first, last = map(float, done.stdout.split()[-2:])
    assert last < first
