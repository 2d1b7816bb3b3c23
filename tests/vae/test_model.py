"""The VAE model and its use: loss terms against independent computations, the KL weight,
sampling, encodings, and errors."""

import numpy as np
import pytest
from scipy import stats

keras = pytest.importorskip("keras")

from helpers.vae import inference as vae_inference  # noqa: E402
from helpers.vae import model as vae  # noqa: E402


def test_gaussian_log_likelihood_matches_scipy():
    rng = np.random.default_rng(1)
    x, mean = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    log_sigma = -0.7
    ours = keras.ops.convert_to_numpy(vae.gaussian_nll(x, mean, log_sigma))
    expected = -stats.norm(mean, np.exp(log_sigma)).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_the_heteroscedastic_log_likelihood_matches_scipy():
    rng = np.random.default_rng(4)
    x, mean, log_sigma = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(scale=0.8, size=(5, 2))
    ours = keras.ops.convert_to_numpy(vae.gaussian_nll(x, mean, log_sigma))
    expected = -stats.norm(mean, np.exp(log_sigma)).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_the_heteroscedastic_model_scores_each_sample_with_its_own_sigma():
    model = vae.VAE(2, 1, (8,), likelihood="heteroscedastic", seed=0)
    model.build((None, 2))
    x = np.random.default_rng(5).normal(size=(6, 2)).astype(np.float32)
    outputs = model.pass_through(x, keras.random.SeedGenerator(0))
    reconstruction, _ = model.elbo_terms(x, outputs)
    mean, sigma = (keras.ops.convert_to_numpy(outputs[key]) for key in ("decoded", "x_log_sigma"))
    expected = -stats.norm(mean, np.exp(sigma)).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reconstruction), expected, rtol=1e-5)
    assert (sigma > vae.LOG_SIGMA_FLOOR).all() and np.ptp(sigma) > 0  # one sigma per sample and feature


def test_samples_of_the_heteroscedastic_model_take_their_sigma_from_the_second_head():
    model = vae.VAE(2, 1, (8,), likelihood="heteroscedastic", seed=0)
    model.build((None, 2))
    samples = vae_inference.sample(model, 20_000, seed=1)
    z = vae_inference.prior_draws(model, 20_000, seed=1)
    spread = samples - keras.ops.convert_to_numpy(model.decode(z))
    sigma = keras.ops.convert_to_numpy(model.decode_sigma(z))
    assert np.mean(spread**2 / sigma**2) == pytest.approx(1.0, abs=0.05)  # standardised noise has variance 1
    assert vae_inference.likelihood_sigma(model) == pytest.approx(float(sigma.mean()), rel=0.05)


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


def test_reparameterized_draws_have_the_posterior_moments():
    mean = np.array([[1.0, -2.0]], dtype=np.float32).repeat(100_000, axis=0)
    log_var = np.log(np.array([[0.25, 4.0]], dtype=np.float32)).repeat(100_000, axis=0)
    z = keras.ops.convert_to_numpy(vae.reparameterize(mean, log_var, keras.random.SeedGenerator(0)))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 2.0], rtol=0.01)


def _three_draws(draw, compiled):
    """Three (128, 32) draws from a fresh SeedGenerator, and the generator's state after them."""
    generator = keras.random.SeedGenerator(5)

    def three():
        return [draw((128, 32), generator) for _ in range(3)]

    if compiled:
        import tensorflow as tf

        three = tf.function(three, jit_compile=True)
    draws = [keras.ops.convert_to_numpy(d) for d in three()]
    return draws, keras.ops.convert_to_numpy(generator.state.value)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
def test_the_posterior_noise_is_keras_own_normal_draws_bit_for_bit(compiled):
    # standard_normal names TensorFlow's algorithm for speed; the draws, and so every trained
    # model, must stay those of keras.random.normal, eagerly and inside XLA-compiled training.
    if compiled and keras.backend.backend() != "tensorflow":
        pytest.skip("XLA compilation through tf.function needs the TensorFlow backend")
    ours, our_state = _three_draws(vae.standard_normal, compiled)
    theirs, their_state = _three_draws(lambda shape, seed: keras.random.normal(shape, seed=seed), compiled)
    for mine, keras_draw in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, keras_draw)
    assert not np.array_equal(ours[0], ours[1])  # the generator moves on between draws
    np.testing.assert_array_equal(our_state, their_state)


def _model(**kwargs):
    model = vae.VAE(6, latent_dim=2, hidden=(8,), **kwargs)
    model.build((None, 6))
    return model


def test_the_kl_weight_scales_the_kl_term_of_the_loss():
    x = np.random.default_rng(0).uniform(size=(32, 6)).astype(np.float32)
    losses, weights = {}, _model().get_weights()
    for weight in (0.0, 1.0, 3.0):
        model = _model(kl_weight=weight, seed=1)
        model.set_weights(weights)  # identical weights, only the KL weight differs
        outputs = model.pass_through(x, 7)  # the same posterior draw for every model
        reconstruction, kl = (keras.ops.convert_to_numpy(t) for t in model.elbo_terms(x, outputs))
        losses[weight] = float(keras.ops.convert_to_numpy(model.compute_loss(x, None, outputs)))
        assert losses[weight] == pytest.approx(np.mean(reconstruction + weight * kl), rel=1e-5)
    assert losses[1.0] - losses[0.0] == pytest.approx((losses[3.0] - losses[0.0]) / 3, rel=1e-4)
    assert losses[1.0] > losses[0.0]  # KL(q || p) > 0 for an untrained encoder


def test_negative_elbo_is_the_sum_of_its_terms_and_uses_the_likelihood_constant():
    model = _model(seed=2)
    x = np.random.default_rng(1).uniform(size=(50, 6)).astype(np.float32)
    terms = vae_inference.negative_elbo(model, x, batch_size=7, seed=3)
    assert terms["negative_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
    assert terms["kl"] > 0
    assert terms == vae_inference.negative_elbo(model, x, batch_size=7, seed=3)  # seeded
    model.log_sigma.assign(np.log(0.1))  # a smaller sigma shifts the reconstruction term by the constant
    shrunk = vae_inference.negative_elbo(model, x, batch_size=7, seed=3)
    assert shrunk["kl"] == pytest.approx(terms["kl"])
    assert shrunk["reconstruction"] != pytest.approx(terms["reconstruction"])


def test_views_and_encodings_have_the_shapes_the_figures_need():
    model = _model(seed=0)
    x = np.random.default_rng(0).uniform(size=(9, 6)).astype(np.float32)
    shown = vae_inference.views(model, x, n_shown=4, seed=0)
    assert shown["latent"].shape == (9, 2) and shown["reconstructions"].shape == (4, 6)
    assert shown["generated"].shape == (4, 6)
    np.testing.assert_allclose(shown["latent"], keras.ops.convert_to_numpy(model.encode(x)[0]), rtol=1e-6)
    z = vae_inference.prior_draws(model, 4, seed=0)
    np.testing.assert_allclose(shown["generated"], vae_inference.decode(model, z), rtol=1e-6)


def test_sample_draws_the_likelihood_noise_around_the_decoded_mean():
    model = vae.VAE(3, latent_dim=2, hidden=(8,))
    model.build((None, 3))
    model.log_sigma.assign(np.log(0.25))
    draws = vae_inference.sample(model, 200_000, seed=1, batch_size=30_000)
    means = vae_inference.generate(model, 200_000, seed=1)  # the same latent draws: the first numbers of the stream
    assert draws.shape == (200_000, 3) and draws.dtype == np.float32
    noise = draws - means
    np.testing.assert_allclose(noise.std(axis=0), 0.25, rtol=0.01)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.005)
    np.testing.assert_array_equal(vae_inference.sample(model, 10, seed=4), vae_inference.sample(model, 10, seed=4))
    assert vae_inference.sample(model, 0).shape == (0, 3)
    binary = vae.VAE(5, latent_dim=2, hidden=(8,), likelihood="bernoulli")
    binary.build((None, 5))
    assert set(np.unique(vae_inference.sample(binary, 1000))) <= {0.0, 1.0}


def test_save_and_load_round_trip(tmp_path):
    model = vae.VAE(20, latent_dim=2, hidden=(8,), likelihood="bernoulli")
    x = np.random.default_rng(0).uniform(size=(3, 20)).astype(np.float32)
    model(x)
    model.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert loaded.likelihood == "bernoulli" and loaded.latent_dim == 2
    np.testing.assert_allclose(vae_inference.encode_mean(loaded, x), vae_inference.encode_mean(model, x), rtol=1e-6)


def test_bad_models_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="likelihood must be one of"):
        vae.VAE(10, likelihood="poisson")
    with pytest.raises(ValueError, match="kl_weight must be a number at least 0"):
        vae.VAE(10, kl_weight=-1)
    with pytest.raises(ValueError, match="every hidden layer size must be an integer from 1 to 4096, got 0"):
        vae.VAE(10, hidden=(8, 0))
    with pytest.raises(ValueError, match="must have 6 columns"):
        vae_inference.negative_elbo(_model(), np.zeros((3, 5)))
    binary = _model(likelihood="bernoulli")
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        vae_inference.negative_elbo(binary, np.full((3, 6), 2.0))
