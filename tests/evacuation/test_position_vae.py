"""The VAE as a density of positions: the training scaler, the validation split, the sampler in
metres, and the CSV of start positions."""

import numpy as np
import pytest

from helpers.evacuation import position_vae
from helpers.evacuation.scenario import write_positions_csv


def test_scaler_round_trip_uses_the_training_range():
    train = np.array([[0.0, 10.0], [4.0, 30.0], [2.0, 20.0]])
    scaler = position_vae.fit_scaler(train)
    np.testing.assert_allclose(scaler.transform(train).min(axis=0), [-1, -1])
    np.testing.assert_allclose(scaler.transform(train).max(axis=0), [1, 1])
    test = np.array([[6.0, 0.0]])  # outside the training range: mapped with the training scaler
    np.testing.assert_allclose(scaler.transform(test), [[2.0, -2.0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)
    with pytest.raises(ValueError, match="constant"):
        position_vae.fit_scaler(np.array([[1.0, 2.0], [1.0, 3.0]]))


def test_the_validation_split_holds_out_a_fifth_and_depends_on_the_seed():
    train = np.arange(200.0).reshape(100, 2)
    fit, validation = position_vae.validation_split(train, seed=3)
    assert len(validation) == 20 and len(fit) == 80
    assert sorted(map(tuple, np.vstack([fit, validation]))) == sorted(map(tuple, train))
    np.testing.assert_array_equal(position_vae.validation_split(train, seed=3)[1], validation)
    assert not np.array_equal(position_vae.validation_split(train, seed=4)[1], validation)


def test_configuration_keeps_only_the_snapshot_epochs_it_reaches():
    config = position_vae.vae_config(hidden=(8,), max_epochs=20)
    assert config.snapshot_epochs == (1, 10) and config.value_range is None
    # The whole cosine schedule runs: no stop before max_epochs.
    assert config.schedule == "cosine" and config.min_epochs == config.patience == 20


def test_the_sampler_and_evaluation_work_in_metres():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(5)
    train = rng.uniform([0, 0], [200, 100], size=(3000, 2))
    config = position_vae.vae_config(hidden=(8,), max_epochs=2)
    trained, scaler = position_vae.fit_vae(train, train[:100], config, verbose=0)
    assert len(trained.history["test_loss"]) == 2
    draws = position_vae.sampler(trained.model, scaler)(50_000, np.random.default_rng(0))
    assert draws.shape == (50_000, 2)
    # The generative process written out by hand: z from the prior, the decoder's mean, the likelihood's
    # noise, then the training range's map back to metres.
    rng = np.random.default_rng(1)
    z = rng.standard_normal((50_000, trained.model.latent_dim)).astype(np.float32)
    noise = trained.model.sigma * rng.standard_normal((50_000, 2))
    scaled = keras.ops.convert_to_numpy(trained.model.decode(z)) + noise
    low, high = train.min(axis=0), train.max(axis=0)
    by_hand = (scaled + 1.0) / 2.0 * (high - low) + low
    assert np.all(np.abs(draws.mean(axis=0) - by_hand.mean(axis=0)) < 0.01 * (high - low))
    np.testing.assert_allclose(draws.std(axis=0), by_hand.std(axis=0), rtol=0.02)
    assert position_vae.sigma_in_metres(trained, scaler) == pytest.approx(trained.model.sigma * 150 / 2, rel=0.01)
    metrics = position_vae.evaluate_vae(trained, scaler, train, train[:100], n_samples=3000, elbo_repeats=2)
    assert metrics["best_epoch"] == int(np.argmin(trained.history["validation_loss"])) + 1
    assert 0 <= metrics["share_inside"] <= 1 and metrics["epochs_trained"] == 2
    stages = position_vae.stage_reconstructions(trained, scaler, train[:10])
    assert list(stages) == ["after epoch 1", f"converged (epoch {trained.best_epoch})"]
    assert all(points.shape == (10, 2) for points in stages.values())


def test_initial_positions_csv_round_trip_and_bad_input(tmp_path):
    points = np.array([[1.23456, 2.0], [150.0, 60.5]])
    path = write_positions_csv(tmp_path / "out" / "positions.csv", points)
    assert path.read_text().splitlines()[0] == "x,y"
    np.testing.assert_allclose(np.loadtxt(path, delimiter=",", skiprows=1), points, atol=5e-4)
    with pytest.raises(ValueError, match="NaN or infinite"):
        write_positions_csv(tmp_path / "bad.csv", [[np.nan, 1.0]])
    with pytest.raises(ValueError, match="must have 2 columns"):
        write_positions_csv(tmp_path / "bad.csv", [[1.0, 2.0, 3.0]])
    assert not (tmp_path / "bad.csv").exists()


def test_an_ensembles_sampler_draws_each_position_from_one_of_its_models(monkeypatch):
    """Two 'models' that put everyone at one of two places: the mixture puts about half at each."""
    monkeypatch.setattr(position_vae, "sampler", lambda place, _: (lambda n, rng: np.tile(place, (n, 1))))
    scaler = position_vae.fit_scaler(np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]]))
    draw = position_vae.ensemble_sampler([[1.0, 1.0], [9.0, 9.0]], scaler)
    points = draw(10_000, np.random.default_rng(0))
    assert points.shape == (10_000, 2) and set(np.unique(points[:, 0])) == {1.0, 9.0}
    assert np.mean(points[:, 0] == 1.0) == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(draw(500, np.random.default_rng(1)), draw(500, np.random.default_rng(1)))


def test_an_ensemble_member_is_the_model_of_its_seed_wherever_it_trains(tmp_path):
    """The ensemble trains its missing models side by side in worker processes; each is the model its seed
    gives when trained alone here: the same seed, the same weights; another seed, other weights."""
    pytest.importorskip("keras")
    rng = np.random.default_rng(7)
    train, test = rng.uniform([0, 0], [200, 100], size=(500, 2)), rng.uniform([0, 0], [200, 100], size=(50, 2))
    config = position_vae.vae_config(hidden=(8,), max_epochs=2)
    models, _ = position_vae.fit_ensemble(train, test, config, [3, 4], cache_dir=tmp_path, verbose=False)
    alone, _ = position_vae.fit_vae(train, test, config.replace(seed=3), verbose=False)  # no cache: trained here
    assert [model.model.seed for model in models] == [3, 4]
    for mine, its in zip(models[0].model.get_weights(), alone.model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, its)
    assert not all(np.array_equal(a, b) for a, b in zip(models[0].model.get_weights(), models[1].model.get_weights(),
                                                        strict=True))
    assert models[0].history == alone.history and models[0].history != models[1].history


def test_the_entrance_budget_splits_the_share_into_the_decoders_means_and_the_likelihoods_noise():
    keras = pytest.importorskip("keras")
    from scipy import stats

    rng = np.random.default_rng(7)
    train = rng.uniform([0, 0], [200, 100], size=(600, 2))
    rectangle = ((80.0, 60.0), (120.0, 40.0))
    config = position_vae.vae_config(hidden=(8,), likelihood="heteroscedastic", max_epochs=2)
    trained, scaler = position_vae.fit_ensemble(train, train[:100], config, [0, 1], verbose=0)
    models = [t.model for t in trained]
    n = 20_000
    budget = position_vae.entrance_budget(models, scaler, n=n, seed=3, rectangle=rectangle)
    # By hand, for each model: the prior codes of seed 3, the decoder's means and sigma(z) in metres, and the
    # share of the samples the Gaussian noise leaves inside: a product of normal probabilities per feature.
    low, high = np.array([80.0, 40.0]), np.array([120.0, 60.0])
    metres = (train.max(axis=0) - train.min(axis=0)) / 2.0
    rows = []
    for model in models:
        z = np.random.default_rng(3).standard_normal((n, model.latent_dim)).astype(np.float32)
        mean = scaler.inverse_transform(keras.ops.convert_to_numpy(model.decode(z)))
        sigma = keras.ops.convert_to_numpy(model.decode_sigma(z)) * metres
        inside = np.all((mean >= low) & (mean <= high), axis=1)
        expected = np.prod(stats.norm.cdf((high - mean) / sigma) - stats.norm.cdf((low - mean) / sigma), axis=1)
        rows.append((inside.mean(), expected.mean(), sigma.mean(axis=1).mean(), sigma[inside].mean(axis=1).mean()))
    means_inside, expected_inside, sigma_all, sigma_inside = np.mean(rows, axis=0)
    assert budget["models"] == 2
    assert budget["means_inside"] == pytest.approx(means_inside, abs=1e-12)
    assert budget["sigma_metres"] == pytest.approx(sigma_all, rel=1e-5)
    assert budget["sigma_metres_inside"] == pytest.approx(sigma_inside, rel=1e-5)
    monte_carlo = np.sqrt(expected_inside * (1 - expected_inside) / (2 * n))
    assert abs(budget["samples_inside"] - expected_inside) < 4 * monte_carlo
    # Samples leave a share different from the means' one: the noise moved mass, as the budget is meant to show.
    assert budget["samples_inside"] != pytest.approx(budget["means_inside"], abs=8 * monte_carlo)


def test_the_entrance_budget_of_one_global_sigma_is_the_same_inside_and_out():
    pytest.importorskip("keras")
    rng = np.random.default_rng(8)
    train = rng.uniform([0, 0], [200, 100], size=(600, 2))
    trained, scaler = position_vae.fit_vae(train, train[:100], position_vae.vae_config(hidden=(8,), max_epochs=2),
                                           verbose=0)
    budget = position_vae.entrance_budget([trained.model], scaler, n=5000, rectangle=((0, 100), (200, 0)))
    assert budget["sigma_metres_inside"] == pytest.approx(budget["sigma_metres"], rel=1e-6)
    assert budget["sigma_metres"] == pytest.approx(position_vae.sigma_in_metres(trained, scaler), rel=1e-5)
    nowhere = position_vae.entrance_budget([trained.model], scaler, n=5000, rectangle=((1000, 1001), (1001, 1000)))
    assert nowhere["means_inside"] == 0 and nowhere["sigma_metres_inside"] is None
    with pytest.raises(ValueError, match="at least one model"):
        position_vae.entrance_budget([], scaler)
