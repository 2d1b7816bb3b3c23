"""The critical-number estimator against the exact negative-binomial answer."""

import numpy as np
import pytest

from helpers import data, evacuation
from helpers.evacuation import (
    CAPACITY,
    exact_critical_number,
    in_rectangle,
    resampling_sampler,
    simulate_critical_numbers,
    summarize,
)


def uniform_box(n, rng):
    """Uniform on [0, 200] x [0, 100]: the entrance rectangle (20 x 20) holds a share of 0.02."""
    return rng.uniform([0.0, 0.0], [200.0, 100.0], size=(n, 2))


def test_rectangle_is_closed_and_corner_order_does_not_matter():
    points = np.array([[130, 70], [150, 50], [140, 60], [129.999, 60], [150.001, 60], [140, 70.001], [140, 50]])
    expected = [True, True, True, False, False, False, True]
    assert in_rectangle(points).tolist() == expected
    assert in_rectangle(points, ((150, 50), (130, 70))).tolist() == expected
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        in_rectangle(np.zeros((3, 3)))


def test_exact_answer_is_the_negative_binomial():
    exact = exact_critical_number(0.02)
    assert exact.mean == pytest.approx(101 / 0.02)
    assert exact.low < exact.median < exact.high
    assert exact_critical_number(1.0).mean == exact_critical_number(1.0).median == CAPACITY + 1
    with pytest.raises(ValueError, match="never fills"):
        exact_critical_number(0.0)


def test_simulation_matches_the_exact_distribution_for_a_known_share():
    counts = simulate_critical_numbers(uniform_box, repeats=4000, seed=1)
    exact = exact_critical_number(0.02)
    sd = np.sqrt(101 * 0.98) / 0.02  # standard deviation of the negative binomial count
    assert abs(counts.mean() - exact.mean) < 4 * sd / np.sqrt(len(counts))
    simulated = summarize(counts)
    for ours, truth in ((simulated.median, exact.median), (simulated.low, exact.low), (simulated.high, exact.high)):
        assert ours == pytest.approx(truth, rel=0.03)
    assert counts.min() >= CAPACITY + 1


def test_each_count_is_where_the_capacity_is_first_exceeded():
    # A deterministic sampler: every third person stands inside.
    placed = [0]

    def every_third(n, rng):
        idx = placed[0] + np.arange(n)
        placed[0] += n
        return np.where((idx % 3 == 2)[:, None], [[140.0, 60.0]], [[0.0, 0.0]])

    counts = simulate_critical_numbers(every_third, capacity=2, repeats=1, seed=0, batch=4)
    assert counts.tolist() == [9]  # people 3, 6 and 9 are inside; the 9th makes three > 2


def test_results_depend_on_the_seed_only_within_the_spread():
    a = simulate_critical_numbers(uniform_box, repeats=1000, seed=1)
    b = simulate_critical_numbers(uniform_box, repeats=1000, seed=1)
    c = simulate_critical_numbers(uniform_box, repeats=1000, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean() - c.mean()) < 5 * np.sqrt(2) * (np.sqrt(101 * 0.98) / 0.02) / np.sqrt(1000)


def test_data_resampling_agrees_with_the_exact_answer_for_its_share():
    train, _ = data.load_fire_evac()
    share = in_rectangle(train).mean()
    counts = simulate_critical_numbers(resampling_sampler(train), repeats=2000, seed=3)
    exact = exact_critical_number(share)
    assert 0 < share < 0.2
    assert counts.mean() == pytest.approx(exact.mean, rel=0.02)


def test_bad_samplers_and_arguments_are_rejected():
    with pytest.raises(ValueError, match="must return shape"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 3)), repeats=2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        simulate_critical_numbers(lambda n, rng: np.full((n, 2), np.nan), repeats=2)
    with pytest.raises(RuntimeError, match="none of 20000 people"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 2)), repeats=2)
    with pytest.raises(RuntimeError, match="without filling"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 2)), repeats=2, max_people=50_000, batch=10_000)
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        simulate_critical_numbers(uniform_box, repeats=0)
    with pytest.raises(ValueError, match="capacity must be a non-negative integer"):
        simulate_critical_numbers(uniform_box, capacity=-1)


def test_scaler_round_trip_uses_the_training_range():
    from helpers.evacuation import MinMaxScaler

    train = np.array([[0.0, 10.0], [4.0, 30.0], [2.0, 20.0]])
    scaler = MinMaxScaler().fit(train)
    np.testing.assert_allclose(scaler.transform(train).min(axis=0), [-1, -1])
    np.testing.assert_allclose(scaler.transform(train).max(axis=0), [1, 1])
    test = np.array([[6.0, 0.0]])  # outside the training range: mapped with the training scaler
    np.testing.assert_allclose(scaler.transform(test), [[2.0, -2.0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)
    with pytest.raises(ValueError, match="constant"):
        MinMaxScaler().fit(np.array([[1.0, 2.0], [1.0, 3.0]]))


def test_energy_distance_separates_distributions():
    from helpers.evacuation import energy_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    shifted = rng.normal(size=(400, 2)) + [1.0, 0.0]
    assert abs(energy_distance(a, b)) < 0.02
    assert energy_distance(a, shifted) > 10 * abs(energy_distance(a, b))
    assert energy_distance(a, shifted) == pytest.approx(energy_distance(shifted, a))


def test_baselines_reproduce_a_mixture():
    from helpers.evacuation import energy_distance, fit_baselines

    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal([0, 0], 0.3, size=(500, 2)), rng.normal([4, 1], 0.5, size=(500, 2))])
    samplers = fit_baselines(X, max_components=4)
    distances = {name: energy_distance(sampler(1000, np.random.default_rng(2)), X) for name, sampler in samplers.items()}
    mixture = next(name for name in distances if name.startswith("Gaussian mixture"))
    assert "(2 components" in mixture
    assert distances[mixture] < 0.05 and distances["kernel density estimate"] < 0.05
    assert distances["single Gaussian"] > 3 * distances[mixture]


def test_sample_quality_and_the_vae_sampler_work_in_metres():
    from helpers import vae

    rng = np.random.default_rng(5)
    train = rng.uniform([0, 0], [200, 100], size=(3000, 2))
    quality = evacuation.sample_quality(train[:1500].repeat(2, axis=0), train, train[1500:])
    assert quality["share_inside"] == pytest.approx(evacuation.in_rectangle(train[:1500]).mean())
    with pytest.raises(ValueError, match="at least 3000 samples"):
        evacuation.sample_quality(train[:100], train, train)
    config = evacuation.vae_config(hidden=(8,), max_epochs=1, n_test=100)
    assert config.value_range is None and config.snapshot_epochs == (1,) and config.min_epochs == 1
    trained, scaler = evacuation.fit_vae(train, train[:100], config, verbose=0)
    draws = evacuation.vae_sampler(trained.model, scaler)(50_000, np.random.default_rng(0))
    scaled = scaler.transform(draws)
    assert draws.shape == (50_000, 2)
    # the draws are the VAE's samples mapped back: their spread around zero is that of vae.sample
    np.testing.assert_allclose(scaled.std(axis=0), vae.sample(trained.model, 50_000, seed=1).std(axis=0), rtol=0.05)


def test_initial_positions_csv_round_trip_and_bad_input(tmp_path):
    points = np.array([[1.23456, 2.0], [150.0, 60.5]])
    path = evacuation.write_positions_csv(tmp_path / "out" / "positions.csv", points)
    assert path.read_text().splitlines()[0] == "x,y"
    np.testing.assert_allclose(np.loadtxt(path, delimiter=",", skiprows=1), points, atol=5e-4)
    with pytest.raises(ValueError, match="finite \\(n, 2\\) array"):
        evacuation.write_positions_csv(tmp_path / "bad.csv", [[np.nan, 1.0]])
    assert not (tmp_path / "bad.csv").exists()
