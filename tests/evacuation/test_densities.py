"""Energy distances, the permutation test, baseline densities and the quality of samples."""

import numpy as np
import pytest

from helpers.evacuation import critical_number, densities


def test_energy_distance_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    shifted = rng.normal(size=(400, 2)) + [1.0, 0.0]
    assert abs(densities.energy_distance(a, b)) < 0.02
    assert densities.energy_distance(a, shifted) > 10 * abs(densities.energy_distance(a, b))
    assert densities.energy_distance(a, shifted) == pytest.approx(densities.energy_distance(shifted, a))
    with pytest.raises(ValueError, match="must have 2 columns"):
        densities.energy_distance(a, np.zeros((5, 3)))


def test_the_permutation_test_rejects_a_shift_and_not_a_resample():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(150, 2)), rng.normal(size=(100, 2))
    same = densities.energy_test(a, b, permutations=99, seed=0)
    moved = densities.energy_test(a, b + [0.8, 0.0], permutations=99, seed=0)
    assert same["energy_distance"] == pytest.approx(densities.energy_distance(a, b))
    assert same["p_value"] > 0.05 and moved["p_value"] == pytest.approx(0.01)  # the smallest possible: 1 / 100
    assert densities.energy_test(a, b, permutations=99, seed=0) == same


def test_compare_sets_reports_the_known_shift_of_the_fire_evacuation_data():
    from helpers.core import data

    train, test = data.load_fire_evac()
    sets = densities.compare_sets(train, test, permutations=19, seed=0, significance=0.1)
    assert sets["share_inside"]["training"] == pytest.approx(274 / 3000)
    assert sets["share_inside"]["test"] == pytest.approx(critical_number.in_rectangle(test).mean())
    assert sets["differ"] and sets["p_value"] == pytest.approx(1 / 20)
    assert sets["energy_distance_train_test"] > 10 * sets["energy_distance_train_halves"]
    # 19 relabellings cannot show p < 0.01: the smallest p-value is 1 / 20
    assert not densities.compare_sets(train, test, permutations=19, seed=0)["differ"]


def test_repeated_positions_counts_copies_and_test_positions_seen_in_training():
    train = np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [3.0, 1.0], [0.0, 0.0], [1.0, 2.0]])
    test = np.array([[1.0, 2.0], [5.0, 5.0], [0.0, 0.0], [3.0, 1.0000001]])
    counted = densities.repeated_positions(train, test)
    assert counted == {"distinct_training": 3, "repeated_training": 2, "rows_repeated_training": 5,
                       "test_in_training": 0.5}


def test_the_fire_evacuation_training_set_repeats_half_its_positions():
    from helpers.core import data

    train, test = data.load_fire_evac()
    counted = densities.repeated_positions(train, test)
    # 3000 rows: 764 positions once, 2 twice, 744 three times; most test positions are training positions.
    assert counted["distinct_training"] == 764 + 2 + 744
    assert counted["rows_repeated_training"] == 2 * 2 + 3 * 744
    assert 0.9 < counted["test_in_training"] < 0.95


def test_baselines_reproduce_a_mixture():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal([0, 0], 0.3, size=(500, 2)), rng.normal([4, 1], 0.5, size=(500, 2))])
    samplers = densities.fit_baselines(X, max_components=4)
    distances = {name: densities.energy_distance(sampler(1000, np.random.default_rng(2)), X)
                 for name, sampler in samplers.items()}
    mixture = next(name for name in distances if name.startswith("Gaussian mixture"))
    assert "(2 components" in mixture
    assert distances[mixture] < 0.05 and distances["kernel density estimate"] < 0.05
    assert distances["single Gaussian"] > 3 * distances[mixture]


def test_sample_quality_measures_the_share_inside_and_both_distances():
    rng = np.random.default_rng(5)
    train = rng.uniform([0, 0], [200, 100], size=(3000, 2))
    quality = densities.sample_quality(train[:1500].repeat(2, axis=0), train, train[1500:])
    assert quality["share_inside"] == pytest.approx(critical_number.in_rectangle(train[:1500]).mean())
    assert quality["energy_distance_test"] == pytest.approx(densities.energy_distance(train[:1500].repeat(2, axis=0),
                                                                                      train[1500:]))
    with pytest.raises(ValueError, match="at least 3000 samples"):
        densities.sample_quality(train[:100], train, train)
    table = densities.baseline_quality({"copy": lambda n, r: train[r.integers(0, 3000, n)]}, train, train,
                                       n_samples=3000)
    assert table["copy"]["energy_distance_train"] < 1.0
