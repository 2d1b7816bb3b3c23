"""The decoded prior-quantile grid of a 2-D latent space and what a classifier reads in it."""

import numpy as np
import pytest
from scipy import stats

from helpers.mnist import latent_manifold


def test_the_grid_is_spaced_by_the_prior_quantiles_and_laid_out_like_an_image():
    axis, codes = latent_manifold.prior_quantile_grid(20)
    assert codes.shape == (20, 20, 2)
    np.testing.assert_allclose(stats.norm.cdf(axis), (np.arange(20) + 0.5) / 20)  # equal prior mass per line
    np.testing.assert_allclose(axis, -axis[::-1])  # symmetric about 0
    assert np.all(np.diff(axis) > 0)
    np.testing.assert_array_equal(codes[0, :, 0], axis)  # z_1 grows to the right
    np.testing.assert_array_equal(codes[:, 0, 1], axis[::-1])  # z_2 grows upwards (row 0 at the top)
    with pytest.raises(ValueError, match="the grid's tiles per side must be an integer of at least 2"):
        latent_manifold.prior_quantile_grid(1)


def test_a_known_decoder_gives_the_known_mosaic():
    # Each tile is constant: its value encodes the code's place, 10 * (column index) + (row index).
    axis, _ = latent_manifold.prior_quantile_grid(3)

    def decode(z):
        column = np.abs(z[:, :1] - axis).argmin(axis=1)  # the nearest grid value (codes arrive as float32)
        row = 2 - np.abs(z[:, 1:] - axis).argmin(axis=1)
        return np.repeat((10 * column + row)[:, None], 4, axis=1).astype(float)

    grid = latent_manifold.decode_grid(decode, 3, side=2)
    assert grid["tiles"].shape == (3, 3, 2, 2) and grid["mosaic"].shape == (6, 6)
    expected = np.array([[0, 10, 20], [1, 11, 21], [2, 12, 22]])
    np.testing.assert_array_equal(grid["mosaic"], np.kron(expected, np.ones((2, 2))))
    with pytest.raises(ValueError, match="decode must return shape \\(9, 4\\)"):
        latent_manifold.decode_grid(lambda z: np.zeros((9, 3)), 3, side=2)


def test_reading_the_tiles_counts_digits_unsure_tiles_and_meeting_pairs():
    labels = np.array([[1, 1, 7], [1, 4, 7], [9, 4, 4]])
    confidence = np.array([[0.9, 0.8, 0.4], [0.9, 0.9, 0.95], [0.3, 0.9, 0.9]])
    probabilities = np.full((3, 3, 10), 0.0)
    for (r, c), label in np.ndenumerate(labels):
        probabilities[r, c] = (1 - confidence[r, c]) / 9
        probabilities[r, c, label] = confidence[r, c]
    read = latent_manifold.read_tiles(probabilities, unsure_below=0.5)
    np.testing.assert_array_equal(read["labels"], labels)
    assert read["digits"] == [1, 4, 7, 9] and read["n_digits"] == 4 and read["missing_digits"] == [0, 2, 3, 5, 6, 8]
    assert read["unsure_share"] == pytest.approx(2 / 9)
    # neighbours with different labels: across rows 1|7, 1|4, 4|7, 9|4; down columns 1|9, 1|4, 7|4
    pairs = {tuple(p["pair"]): p["count"] for p in read["meeting_pairs"]}
    assert pairs == {(1, 4): 2, (4, 7): 2, (1, 7): 1, (4, 9): 1, (1, 9): 1}
    assert [p["pair"] for p in read["meeting_pairs"][:2]] == [[1, 4], [4, 7]]  # most frequent first, then by digit
    with pytest.raises(ValueError, match="unsure_below must be in"):
        latent_manifold.read_tiles(probabilities, unsure_below=0.0)


def test_the_manifold_of_a_model_is_read_by_the_classifier():
    keras = pytest.importorskip("keras")
    from helpers.vae import model as vae

    model = vae.VAE(784, latent_dim=2, hidden=(8,))
    model.build((None, 784))

    class Constant:
        def predict(self, x, batch_size=None, verbose=0):
            assert x.shape == (16, 784) and x.min() >= 0 and x.max() <= 1
            p = np.zeros((len(x), 10))
            p[:, 3] = 1.0
            return p

    result = latent_manifold.manifold(model, Constant(), 4)
    assert result["digits"] == [3] and result["unsure_share"] == 0 and result["meeting_pairs"] == []
    assert result["mosaic"].shape == (112, 112)
    with pytest.raises(ValueError, match="2-D latent space"):
        latent_manifold.manifold(vae.VAE(784, latent_dim=3, hidden=(8,)), Constant(), 4)
    del keras
