"""Diffusion maps against analytic truth (the circle), dense against sparse, Nystrom, and errors."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from sklearn.datasets import make_swiss_roll

from helpers.core.synthetic import periodic_data, swiss_roll, swiss_roll_shape
from helpers.dmaps import manifold_checks
from helpers.dmaps.estimator import DiffusionMap, with_eigenfunctions
from helpers.dmaps.kernels import diameter
from helpers.dmaps.manifold_checks import (
    false_neighbour_fraction,
    first_new_direction,
    fourier_content,
    local_linear_residuals,
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
    dm = DiffusionMap(6, storage="dense").fit(X)
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
    dense = DiffusionMap(8, storage="dense").fit(X)
    sparse = DiffusionMap(8, storage="sparse", tol=1e-10).fit(X)
    assert sparse.mean_neighbours_ < 0.5 * len(X)  # the sparse kernel really is sparse
    np.testing.assert_allclose(sparse.markov_eigenvalues_, dense.markov_eigenvalues_, rtol=1e-6)
    for index in range(9):  # equal up to sign (the sign rule makes them equal outright)
        a, b = dense.eigenfunctions_[:, index], sparse.eigenfunctions_[:, index]
        assert abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 1 - 1e-6
        np.testing.assert_allclose(a, b, atol=1e-5 * np.abs(a).max())


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_nystrom_reproduces_the_eigenfunctions_at_training_points(roll, storage):
    X, _ = roll
    dm = DiffusionMap(5, storage=storage).fit(X)
    np.testing.assert_allclose(dm.nystrom(X), dm.eigenfunctions_, atol=1e-9 * np.abs(dm.eigenfunctions_).max())
    np.testing.assert_allclose(dm.transform(X[:10]), dm.eigenfunctions_[:10, 1:], rtol=1e-8)


def test_nystrom_interpolates_new_points_on_the_circle(circle):
    X, t = circle
    dm = DiffusionMap(2, storage="dense").fit(X)
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
    for storage in ("dense", "sparse"):
        first = DiffusionMap(6, storage=storage).fit(X)
        again = DiffusionMap(6, storage=storage).fit(X)
        shuffled = DiffusionMap(6, storage=storage).fit(X[permutation])
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
    first_new = first_new_direction(residuals, 0.5)
    assert residuals[first_new - 1] > 0.5 > max(residuals[1:first_new - 1])
    # the rolled-up rectangle is about 4.3 times longer than wide: four modes along it come first
    assert first_new == swiss_roll_shape(X, make_swiss_roll(3000, noise=0.0, random_state=0)[1])[
        "predicted_first_across"] == 5


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
        ({"storage": "magic"}, np.random.default_rng(0).normal(size=(20, 2)), "storage must be one of"),
        ({"alpha": 2.0}, np.random.default_rng(0).normal(size=(20, 2)), "alpha must be in"),
        ({"n_eigenpairs": 0}, np.random.default_rng(0).normal(size=(20, 2)), "n_eigenpairs must be an integer"),
    ],
)
def test_bad_input_is_rejected(kwargs, data, match):
    with pytest.raises(ValueError, match=match):
        DiffusionMap(**{"n_eigenpairs": 2, **kwargs}).fit(data)


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_disconnected_data_says_so_and_suggests_a_larger_epsilon(storage):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(40, 2)) + 1000.0])
    with pytest.raises(ValueError, match="2 disconnected pieces .* larger epsilon"):
        DiffusionMap(3, storage=storage, epsilon=1.0).fit(X)


def test_the_periodic_data_set_is_the_sheets(circle):
    X, t = circle
    data, angles = periodic_data(600)
    np.testing.assert_allclose(data, X)
    np.testing.assert_allclose(angles, t)
    with pytest.raises(ValueError, match="at least 3 points"):
        periodic_data(2)


def test_the_first_new_direction_is_the_first_residual_above_the_threshold():
    assert first_new_direction(np.array([1.0, 0.1, 0.2, 0.9, 0.95])) == 4
    assert first_new_direction(np.array([1.0, 0.1, 0.2])) is None


def test_with_eigenfunctions_counts_phi_0():
    assert with_eigenfunctions(4).n_eigenpairs == 3
    with pytest.raises(ValueError, match="the number of eigenfunctions .* must be an integer of at least 2"):
        with_eigenfunctions(1)


def test_a_circle_unfolds_in_two_coordinates(circle):
    X, _ = circle
    dm = with_eigenfunctions(4).fit(X)
    m, shares = smallest_unfolding_dimension(X, dm.eigenfunctions_)
    assert m == 2 and shares[0] > 0.3 and shares[1] == 0.0
    unfolded = manifold_checks.unfolding(X, dm.eigenfunctions_)
    assert unfolded["needed"] == 2 and unfolded["share_at_needed"] == 0.0


def test_the_circles_eigenfunctions_carry_one_frequency_each_in_pairs(circle):
    X, t = circle
    dm = with_eigenfunctions(4).fit(X)
    table = manifold_checks.fourier_table(dm.eigenfunctions_, t)
    assert [m for m, _ in table] == [0, 1, 1, 2] and table[0] == (0, 1.0)
    gaps = manifold_checks.pair_gaps(dm.markov_eigenvalues_)
    assert len(gaps) == 1 and gaps[0] == pytest.approx(abs(dm.markov_eigenvalues_[2] / dm.markov_eigenvalues_[1] - 1))
    assert manifold_checks.circle_continuum_eigenvalue(2) == pytest.approx(np.exp(-0.5))


def test_residual_analysis_names_the_harmonics_and_the_new_direction(roll):
    rng = np.random.default_rng(0)
    phi1 = rng.uniform(-1, 1, 800)
    columns = np.column_stack([np.ones(800), phi1, np.cos(np.pi * phi1), phi1**3, rng.uniform(-1, 1, 800)])
    result = manifold_checks.residual_analysis(columns, threshold=0.5)
    assert result["first_new"] == 4
    np.testing.assert_array_equal(result["harmonics"], result["first"][1:3])
    assert result["new_residual"] == result["first"][3] > 0.9
    flat = manifold_checks.residual_analysis(columns[:, :4])
    assert flat["first_new"] is None and flat["new_residual"] is None


def test_pca_against_the_diffusion_map_on_the_swiss_roll():
    X, t = swiss_roll(1500, seed=0)
    dm = DiffusionMap(6).fit(X)
    result = manifold_checks.linear_against_diffusion(X, dm.eigenfunctions_)
    summary = result["summary"]
    assert result["pca_plane"].shape == (1500, 2) and len(summary["energy"]) == 3
    assert summary["best_pair"] == min(summary["false_neighbours_pairs"], key=summary["false_neighbours_pairs"].get)
    assert summary["false_neighbours_pca2"] > 3 * summary["false_neighbours_pairs"][summary["best_pair"]]
    shape = swiss_roll_shape(X, t)
    assert shape["width"] == pytest.approx(np.ptp(X[:, 1])) and 4 < shape["ratio"] < 4.5


def test_sparse_kernel_and_its_normalisation_stay_exactly_symmetric(roll):
    from helpers.dmaps.kernels import dense_kernel, scale_entries, sparse_kernel

    X, _ = roll
    W = sparse_kernel(X, 2.0, 1e-6, chunk_entries=997)  # small blocks exercise their boundaries
    assert (W != W.T).nnz == 0
    dense = dense_kernel(X, 2.0)
    np.testing.assert_allclose(W.toarray(), np.where(dense >= 1e-6 * (1 - 1e-12), dense, 0.0), rtol=1e-14)
    scale = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    expected = W.toarray() * np.outer(scale, scale)
    scale_entries(W, scale, scale, chunk=1000)
    assert (W != W.T).nnz == 0
    np.testing.assert_allclose(W.toarray(), expected, rtol=1e-15)
    scale_entries(dense, scale, scale)
    np.testing.assert_array_equal(dense, dense.T)
    rows = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    rectangular = scale_entries(sparse_kernel(X, 2.0, 1e-6, Y=X[:50]), rows[:50], scale)
    np.testing.assert_allclose(rectangular.toarray(), expected[:50] / scale[:50, None] * rows[:50, None], rtol=1e-13)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_other_density_normalisations_match_an_explicit_markov_matrix(roll, alpha, storage):
    X, _ = roll
    dm = DiffusionMap(4, alpha=alpha, storage=storage, tol=1e-12).fit(X)
    W = np.exp(-squareform(pdist(X, "sqeuclidean")) / dm.epsilon_)
    p = W.sum(axis=1)
    K = W / np.outer(p**alpha, p**alpha)
    markov = K / K.sum(axis=1, keepdims=True)
    expected = np.sort(np.linalg.eigvals(markov).real)[::-1][:5]
    np.testing.assert_allclose(dm.markov_eigenvalues_, expected, rtol=1e-8, atol=1e-10)
    # phi_l are right eigenvectors of the Markov matrix, and Nystrom reproduces them
    np.testing.assert_allclose(markov @ dm.eigenfunctions_, dm.eigenfunctions_ * dm.markov_eigenvalues_,
                               atol=1e-8 * np.abs(dm.eigenfunctions_).max())
    scale = np.abs(dm.eigenfunctions_).max()
    np.testing.assert_allclose(dm.nystrom(X[:40]), dm.eigenfunctions_[:40], atol=1e-8 * scale)


def test_threaded_lanczos_agrees_with_the_dense_solver():
    import scipy.linalg
    import scipy.sparse as sp

    from helpers.dmaps.eigensolvers import largest_eigenpairs

    rng = np.random.default_rng(4)
    A = sp.random(600, 600, density=0.02, random_state=5, format="csr")
    A = (A + A.T + sp.diags(rng.uniform(0, 1, 600))).tocsr()
    dense_values, dense_vectors = scipy.linalg.eigh(A.toarray())
    for threads in (1, 3):
        values, vectors = largest_eigenpairs(A, 6, n_threads=threads)
        np.testing.assert_allclose(values, dense_values[::-1][:6], rtol=1e-10)
        for i in range(6):  # the same eigenvectors up to sign
            assert abs(vectors[:, i] @ dense_vectors[:, -1 - i]) == pytest.approx(1.0, abs=1e-8)
    values, _ = largest_eigenpairs(A.toarray(), 6)
    np.testing.assert_allclose(values, dense_values[::-1][:6], rtol=1e-12)
