"""Diffusion maps against analytic truth (the circle), dense against sparse, Nystrom, and errors."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.datasets import make_swiss_roll

from helpers.diffusion_maps import (
    DiffusionMap,
    diameter,
    false_neighbour_fraction,
    first_new_direction,
    fourier_content,
    local_linear_residuals,
    periodic_data,
    smallest_unfolding_dimension,
)


@pytest.fixture(scope="module")
def circle():
    n = 600
    t = 2 * np.pi * np.arange(1, n + 1) / (n + 1)
    return np.column_stack([np.cos(t), np.sin(t)]), t


@pytest.fixture(scope="module")
def roll():
    X, t = make_swiss_roll(700, noise=0.0, random_state=3)
    return X, t


def test_circle_eigenfunctions_are_fourier_pairs_of_increasing_frequency(circle):
    X, t = circle
    dm = DiffusionMap(6, kernel="dense").fit(X)
    frequencies = []
    for index in range(1, 7):
        m, share = fourier_content(dm.eigenfunctions_[:, index], t)
        assert share > 0.9999
        frequencies.append(m)
    assert frequencies == [1, 1, 2, 2, 3, 3]
    a = dm.markov_eigenvalues_
    assert a[0] == pytest.approx(1.0, abs=1e-12)
    # The two members of a pair are nearly equal (the sample's gap at t = 0 splits them
    # slightly, more so at higher frequency), and the pairs decrease.
    for first, rel in ((1, 1e-4), (3, 1e-3), (5, 3e-3)):
        assert a[first + 1] == pytest.approx(a[first], rel=rel)
    assert a[1] > a[3] + 1e-3 > a[5] + 2e-3
    assert np.all(np.diff(dm.eigenvalues_) <= 0)
    np.testing.assert_allclose(dm.eigenvalues_, a ** (1 / (2 * dm.epsilon_)))


def test_phi0_is_constant_and_epsilon_is_five_percent_of_the_diameter(circle, roll):
    X, _ = circle
    for data in (X, roll[0]):
        dm = DiffusionMap(3).fit(data)
        phi0 = dm.eigenfunctions_[:, 0]
        assert np.std(phi0) < 1e-8 * abs(np.mean(phi0))
        assert dm.epsilon_ == pytest.approx(0.05 * pdist(data).max(), rel=1e-12)


def test_dense_and_sparse_kernels_agree(roll):
    X, _ = roll
    dense = DiffusionMap(8, kernel="dense").fit(X)
    sparse = DiffusionMap(8, kernel="sparse", tol=1e-10).fit(X)
    assert sparse.mean_neighbours_ < 0.5 * len(X)  # the sparse kernel really is sparse
    np.testing.assert_allclose(sparse.markov_eigenvalues_, dense.markov_eigenvalues_, rtol=1e-6)
    for index in range(9):  # equal up to sign (the sign rule makes them equal outright)
        a, b = dense.eigenfunctions_[:, index], sparse.eigenfunctions_[:, index]
        assert abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 1 - 1e-6
        np.testing.assert_allclose(a, b, atol=1e-5 * np.abs(a).max())


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
def test_nystrom_reproduces_the_eigenfunctions_at_training_points(roll, kernel):
    X, _ = roll
    dm = DiffusionMap(5, kernel=kernel).fit(X)
    np.testing.assert_allclose(dm.nystrom(X), dm.eigenfunctions_, atol=1e-9 * np.abs(dm.eigenfunctions_).max())
    np.testing.assert_allclose(dm.transform(X[:10]), dm.eigenfunctions_[:10, 1:], rtol=1e-8)


def test_nystrom_interpolates_new_points_on_the_circle(circle):
    X, t = circle
    dm = DiffusionMap(2, kernel="dense").fit(X)
    t_new = np.linspace(0.1, 6.1, 50)
    new = dm.transform(np.column_stack([np.cos(t_new), np.sin(t_new)]))
    # phi_1, phi_2 span cos t, sin t: fit that map on the training points, check it on new ones
    basis = np.column_stack([np.cos(t), np.sin(t)])
    coef, *_ = np.linalg.lstsq(basis, dm.eigenfunctions_[:, 1:], rcond=None)
    expected = np.column_stack([np.cos(t_new), np.sin(t_new)]) @ coef
    # 0.5% of the amplitude: the discrete eigenvectors deviate from cos/sin near the sample's gap.
    np.testing.assert_allclose(new, expected, atol=5e-3 * np.abs(expected).max())


def test_result_does_not_depend_on_point_order_or_repeat(roll):
    X, _ = roll
    permutation = np.random.default_rng(5).permutation(len(X))
    for kernel in ("dense", "sparse"):
        first = DiffusionMap(6, kernel=kernel).fit(X)
        again = DiffusionMap(6, kernel=kernel).fit(X)
        shuffled = DiffusionMap(6, kernel=kernel).fit(X[permutation])
        np.testing.assert_array_equal(first.eigenfunctions_, again.eigenfunctions_)
        np.testing.assert_allclose(shuffled.markov_eigenvalues_, first.markov_eigenvalues_, rtol=1e-10)
        np.testing.assert_allclose(shuffled.eigenfunctions_, first.eigenfunctions_[permutation],
                                   atol=1e-7 * np.abs(first.eigenfunctions_).max())


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_diameter_is_exact(dim):
    X = np.random.default_rng(dim).normal(size=(3000, dim)) * np.arange(1, dim + 1)
    assert diameter(X) == pytest.approx(pdist(X).max(), rel=1e-12)


def test_residuals_separate_harmonics_from_new_directions():
    rng = np.random.default_rng(0)
    phi1 = rng.uniform(-1, 1, 800)
    columns = [np.ones(800), phi1, np.cos(np.pi * phi1), rng.uniform(-1, 1, 800), phi1 ** 3]
    residuals = local_linear_residuals(np.column_stack(columns), regressors="first")
    assert residuals[0] == 1.0
    assert residuals[1] < 0.1 and residuals[3] < 0.1  # smooth functions of phi_1
    assert residuals[2] > 0.9  # independent of phi_1
    previous = local_linear_residuals(np.column_stack(columns), regressors="previous")
    assert previous[2] > 0.9 and previous[3] < 0.1


def test_swiss_roll_first_new_direction_comes_after_harmonics():
    X, _ = make_swiss_roll(3000, noise=0.0, random_state=0)
    dm = DiffusionMap(6).fit(X)
    residuals = local_linear_residuals(dm.eigenfunctions_, regressors="first")
    assert residuals[1] < 0.2  # phi_2 is a harmonic of phi_1
    assert max(residuals[1:]) > 0.9  # some later one is a new direction
    first_new = 1 + int(np.argmax(residuals[1:] > 0.5)) + 1
    assert 3 <= first_new <= 6


def test_false_neighbours_detect_a_folded_curve(circle):
    X, t = circle
    assert false_neighbour_fraction(X, X) == 0.0
    assert false_neighbour_fraction(X, X[:, :1]) > 0.3  # projecting the circle on an axis folds it
    with pytest.raises(ValueError, match="same points"):
        false_neighbour_fraction(X, X[:10])


@pytest.mark.parametrize(
    ("kwargs", "data", "match"),
    [
        ({}, np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0]]), "NaN or infinite"),
        ({"n_eigenpairs": 5}, np.random.default_rng(0).normal(size=(5, 2)), "from only 5 points"),
        ({"epsilon": 0.0}, np.random.default_rng(0).normal(size=(20, 2)), "epsilon must be a positive"),
        ({"epsilon": -1.0}, np.random.default_rng(0).normal(size=(20, 2)), "epsilon must be a positive"),
        ({"kernel": "magic"}, np.random.default_rng(0).normal(size=(20, 2)), "kernel must be one of"),
        ({"alpha": 2.0}, np.random.default_rng(0).normal(size=(20, 2)), "alpha must be in"),
        ({"n_eigenpairs": 0}, np.random.default_rng(0).normal(size=(20, 2)), "positive integer"),
    ],
)
def test_bad_input_is_rejected(kwargs, data, match):
    with pytest.raises(ValueError, match=match):
        DiffusionMap(**{"n_eigenpairs": 2, **kwargs}).fit(data)


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
def test_disconnected_data_says_so_and_suggests_a_larger_epsilon(kernel):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(40, 2)) + 1000.0])
    with pytest.raises(ValueError, match="2 disconnected pieces .* larger epsilon"):
        DiffusionMap(3, kernel=kernel, epsilon=1.0).fit(X)


def test_helpers_for_the_notebook(circle):
    X, t = circle
    data, angles = periodic_data(600)
    np.testing.assert_allclose(data, X)
    np.testing.assert_allclose(angles, t)
    assert first_new_direction(np.array([1.0, 0.1, 0.2, 0.9, 0.95])) == 4
    assert first_new_direction(np.array([1.0, 0.1, 0.2])) is None
    dm = DiffusionMap(3).fit(X)
    m, shares = smallest_unfolding_dimension(X, dm.eigenfunctions_)
    assert m == 2 and shares[0] > 0.3 and shares[1] == 0.0  # a circle needs two coordinates
    with pytest.raises(ValueError, match="at least 3 points"):
        periodic_data(2)


def test_sparse_kernel_and_its_normalisation_stay_exactly_symmetric(roll):
    from helpers.diffusion_maps import _scale_symmetric, dense_kernel, sparse_kernel

    X, _ = roll
    W = sparse_kernel(X, 2.0, 1e-6, chunk_entries=997)  # small blocks exercise their boundaries
    assert (W != W.T).nnz == 0
    dense = dense_kernel(X, 2.0)
    np.testing.assert_allclose(W.toarray(), np.where(dense >= 1e-6 * (1 - 1e-12), dense, 0.0), rtol=1e-14)
    _scale_symmetric(W, np.random.default_rng(0).uniform(0.5, 2.0, len(X)))
    assert (W != W.T).nnz == 0
