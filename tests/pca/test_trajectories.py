"""Pedestrian paths reconstructed by PCA and the energy the data needs."""

import numpy as np
import pytest

from helpers.core import data
from helpers.pca import PCA, trajectories


@pytest.fixture(scope="module")
def fitted():
    rows = data.load_vadere()
    return rows, PCA().fit(rows)


def test_paths_are_the_pedestrians_columns_and_their_reconstructions(fitted):
    rows, pca = fitted
    paths = trajectories.reconstructed_paths(rows, pca, [0, 14], [2, 30])
    np.testing.assert_array_equal(paths[14][0], rows[:, 28:30])
    np.testing.assert_allclose(paths[0][30], rows[:, :2], atol=1e-8)  # all components: exact
    np.testing.assert_allclose(paths[0][2], pca.reconstruct(rows, 2)[:, :2])
    with pytest.raises(ValueError, match="pedestrian 15 does not exist; the data has pedestrians 0 to 14"):
        trajectories.reconstructed_paths(rows, pca, [15], [2])


def test_energy_summary_answers_whether_two_components_are_enough(fitted):
    _, pca = fitted
    summary = trajectories.energy_summary(pca, 0.9)
    assert summary["n_components_for_energy"] == 3 and not summary["two_enough"]
    assert summary["two_components"] == pytest.approx(pca.cumulative_energy()[1])
    assert summary["energy_at_needed"] > 0.9 > summary["two_components"]
    assert summary["next_component"] == pytest.approx(pca.energy_[3])
    assert trajectories.energy_summary(pca, 0.8)["two_enough"]
