"""Seeded hold-out splits: the validation data that chooses models."""

import numpy as np
import pytest

from helpers.core import splits


def test_a_split_is_disjoint_complete_and_sorted():
    fit, validation = splits.holdout(100, 0.2, seed=1)
    assert len(validation) == 20 and len(fit) == 80
    assert np.array_equal(np.sort(np.concatenate([fit, validation])), np.arange(100))
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(validation) > 0)


def test_a_split_follows_its_seed():
    np.testing.assert_array_equal(splits.holdout(100, 0.2, seed=1)[1], splits.holdout(100, 0.2, seed=1)[1])
    assert not np.array_equal(splits.holdout(100, 0.2, seed=2)[1], splits.holdout(100, 0.2, seed=1)[1])


def test_a_count_holds_out_that_many():
    assert len(splits.holdout(60_000, 10_000, seed=0)[1]) == 10_000


@pytest.mark.parametrize("size", [0, 100, 1.0, True])
def test_a_split_keeps_a_sample_on_each_side(size):
    with pytest.raises(ValueError):
        splits.holdout(100, size, seed=0)
