"""The critical-number estimator against the exact negative-binomial answer."""

import numpy as np
import pytest
from scipy import stats

from helpers.core import data
from helpers.evacuation import critical_number
from helpers.evacuation.critical_number import (
    CAPACITY,
    exact_critical_number,
    exact_pmf,
    in_rectangle,
    relative_error,
    relative_spread,
    resampling_sampler,
    simulate_critical_numbers,
    summarize,
    summarize_all,
)


def uniform_box(n, rng):
    """Uniform on [0, 200] x [0, 100]: the entrance rectangle (20 x 20) holds a share of 0.02."""
    return rng.uniform([0.0, 0.0], [200.0, 100.0], size=(n, 2))


def test_rectangle_is_closed_and_corner_order_does_not_matter():
    points = np.array([[130, 70], [150, 50], [140, 60], [129.999, 60], [150.001, 60], [140, 70.001], [140, 50]])
    expected = [True, True, True, False, False, False, True]
    assert in_rectangle(points).tolist() == expected
    assert in_rectangle(points, ((150, 50), (130, 70))).tolist() == expected
    with pytest.raises(ValueError, match="must have 2 columns"):
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
    with pytest.raises(ValueError, match="the sampler's positions must have 2 columns"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 3)), repeats=2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        simulate_critical_numbers(lambda n, rng: np.full((n, 2), np.nan), repeats=2)
    with pytest.raises(ValueError, match="must return shape \\(5, 2\\)"):
        simulate_critical_numbers(lambda n, rng: np.zeros((3, 2)), repeats=1, batch=5)
    with pytest.raises(RuntimeError, match="none of 20000 people"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 2)), repeats=2)
    with pytest.raises(RuntimeError, match="without filling"):
        simulate_critical_numbers(lambda n, rng: np.zeros((n, 2)), repeats=2, max_people=50_000, batch=10_000)
    with pytest.raises(ValueError, match="repeats must be an integer of at least 1"):
        simulate_critical_numbers(uniform_box, repeats=0)
    with pytest.raises(ValueError, match="capacity must be an integer of at least 0"):
        simulate_critical_numbers(uniform_box, capacity=-1)




def test_exact_pmf_spread_and_relative_error_match_the_negative_binomial():
    x, p = exact_pmf(0.1)
    assert p.sum() == pytest.approx(1.0, abs=2e-4) and np.all(np.diff(x) == 1) and x[0] >= CAPACITY + 1
    mean = np.sum(x * p) / p.sum()
    assert mean == pytest.approx(101 / 0.1, rel=1e-3)
    sd = np.sqrt(101 * 0.9) / 0.1
    assert relative_spread(0.1) == pytest.approx(sd / (101 / 0.1), rel=1e-9)
    assert relative_spread(0.1) == pytest.approx(np.sqrt(0.9 / 101), rel=1e-9)
    exact = exact_critical_number(0.1)
    np.testing.assert_allclose(p[np.searchsorted(x, [1000, 1100])],
                               stats.nbinom(101, 0.1).pmf([1000 - 101, 1100 - 101]))
    assert exact.tail_share == pytest.approx(0.05)
    above = relative_error(summarize([1200, 1200], share=0.1), exact)
    assert above["relative_error"] == pytest.approx(1200 / 1010 - 1) and above["above"] and not above["acceptable"]
    near = relative_error(summarize([1000, 1040], share=0.1), exact)
    assert near["acceptable"] and near["above"]
    with pytest.raises(ValueError, match="level must be in \\(0, 1\\)"):
        exact_critical_number(0.1, level=1.0)


def test_summaries_of_several_samplers_take_their_own_shares():
    counts = {"a": np.array([110, 120, 130]), "b": np.array([200, 210, 220])}
    result = summarize_all(counts, {"a": 0.9, "b": 0.5, "unused": 0.1})
    assert result["a"].mean == 120 and result["a"].share == 0.9 and result["b"].median == 210


def test_an_ensembles_critical_number_pools_the_models_as_by_hand():
    counts = [np.array([1000.0, 1100.0, 1200.0]), np.array([1300.0, 1400.0]), np.array([900.0, 1000.0, 1100.0])]
    pooled = critical_number.pool(counts, level=0.9)
    means = np.array([1100.0, 1350.0, 1000.0])
    assert pooled["model_means"] == pytest.approx(means.tolist()) and pooled["mean"] == pytest.approx(1150.0)
    assert pooled["between_models"] == pytest.approx(np.sqrt(((means - 1150.0) ** 2).sum() / 2))
    assert pooled["monte_carlo"] == pytest.approx(np.mean([100 / np.sqrt(3), np.sqrt(5000) / np.sqrt(2),
                                                           100 / np.sqrt(3)]))
    half = 2.919986 * pooled["between_models"] / np.sqrt(3)  # Student's t, 2 degrees of freedom, 95th percentile
    assert (pooled["low"], pooled["high"]) == pytest.approx((1150.0 - half, 1150.0 + half), rel=1e-6)


def test_one_model_has_no_interval_and_decides_nothing():
    pooled = critical_number.pool([np.array([1000.0, 1010.0])])
    assert pooled["between_models"] is None and pooled["low"] is None
    exact = critical_number.exact_critical_number(0.09)
    assert critical_number.against_aim(pooled, exact)["verdict"] == "undecided"


@pytest.mark.parametrize(("spread", "verdict"), [(5.0, "within"), (400.0, "undecided")])
def test_the_verdict_follows_the_interval_and_flips_when_it_crosses_the_aim(spread, verdict):
    exact = critical_number.exact_critical_number(0.09)  # about 1122 people
    centre = exact.mean * 1.10  # 10 % above: within the 15 % aim, unless the models scatter
    counts = [np.full(10, centre + spread * offset) + np.arange(10) for offset in (-1.0, 0.0, 1.0)]
    assert critical_number.against_aim(critical_number.pool(counts), exact)["verdict"] == verdict


def test_an_interval_wholly_beyond_the_aim_is_outside():
    exact = critical_number.exact_critical_number(0.09)
    counts = [np.full(5, exact.mean * factor) + np.arange(5) for factor in (1.30, 1.31, 1.32)]
    judged = critical_number.against_aim(critical_number.pool(counts), exact)
    assert judged["verdict"] == "outside" and judged["interval"][0] > 0.15
