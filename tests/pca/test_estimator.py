"""PCA against independent computations, and its input validation."""

import numpy as np
import pytest
from sklearn.decomposition import PCA as SklearnPCA

from helpers.pca import PCA


@pytest.fixture
def correlated():
    rng = np.random.default_rng(7)
    mixing = rng.normal(size=(5, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])[:, None]
    return rng.normal(size=(300, 5)) @ mixing + np.array([1.0, -2.0, 3.0, 0.0, 10.0])


def test_energies_match_covariance_eigenvalues(correlated):
    pca = PCA().fit(correlated)
    eigenvalues = np.linalg.eigvalsh(np.cov(correlated, rowvar=False))[::-1]
    np.testing.assert_allclose(pca.energy_, eigenvalues / eigenvalues.sum(), rtol=1e-10)
    np.testing.assert_allclose(pca.singular_values_**2 / (len(correlated) - 1), eigenvalues, rtol=1e-10)
    assert pca.energy_.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(pca.energy_) <= 0)


def test_components_match_covariance_eigenvectors_up_to_sign(correlated):
    pca = PCA().fit(correlated)
    _, vectors = np.linalg.eigh(np.cov(correlated, rowvar=False))
    for ours, theirs in zip(pca.components_, vectors[:, ::-1].T, strict=True):
        assert abs(ours @ theirs) == pytest.approx(1.0, abs=1e-9)


def test_matches_scikit_learn(correlated):
    ours = PCA(n_components=3).fit(correlated)
    theirs = SklearnPCA(n_components=3, svd_solver="full").fit(correlated)
    np.testing.assert_allclose(ours.singular_values_[:3], theirs.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(ours.transform(correlated)), np.abs(theirs.transform(correlated)),
                               atol=1e-8)
    np.testing.assert_allclose(ours.energy_[:3], theirs.explained_variance_ratio_, rtol=1e-10)


def test_components_are_orthonormal(correlated):
    components = PCA().fit(correlated).components_
    np.testing.assert_allclose(components @ components.T, np.eye(5), atol=1e-12)


def test_reconstruction_with_all_components_is_exact(correlated):
    pca = PCA().fit(correlated)
    np.testing.assert_allclose(pca.reconstruct(correlated, 5), correlated, atol=1e-10)


def test_reconstruction_error_equals_energy_loss(correlated):
    pca = PCA().fit(correlated)
    centred_energy = np.sum((correlated - correlated.mean(axis=0)) ** 2)
    for n in range(1, 5):
        error = np.sum((correlated - pca.reconstruct(correlated, n)) ** 2) / centred_energy
        assert error == pytest.approx(pca.energy_loss(n), rel=1e-9)


def test_components_for_loss_is_the_smallest_below_threshold(correlated):
    pca = PCA().fit(correlated)
    for threshold in (0.5, 0.1, 0.01, 1e-4):
        n = pca.n_components_for_loss(threshold)
        assert pca.energy_loss(n) < threshold
        if n > 1:
            assert pca.energy_loss(n - 1) >= threshold


def test_signs_are_deterministic_and_independent_of_row_order(correlated):
    a = PCA().fit(correlated).components_
    b = PCA().fit(correlated[::-1]).components_
    np.testing.assert_allclose(a, b, atol=1e-10)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros(5), ValueError, "must be 2-D"),
        (np.ones((1, 3)), ValueError, "at least 2 samples"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), ValueError, "NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "numeric"),
        (np.ones((4, 2)), ValueError, "zero variance"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(data, error, match):
    with pytest.raises(error, match=match):
        PCA().fit(data)


def test_component_counts_are_checked(correlated):
    with pytest.raises(ValueError, match="n_components must be an integer from 1 to 5"):
        PCA(n_components=6).fit(correlated)
    with pytest.raises(ValueError, match="n_components must be an integer, got float"):
        PCA(n_components=2.5).fit(correlated)
    pca = PCA().fit(correlated)
    with pytest.raises(ValueError, match="n_components must be an integer from 1 to 5"):
        pca.reconstruct(correlated, 0)
    with pytest.raises(ValueError, match="fitted on 5"):
        pca.transform(correlated[:, :3])
    with pytest.raises(RuntimeError, match="not fitted"):
        PCA().transform(correlated)
