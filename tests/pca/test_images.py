"""Resizing the raccoon and the image quality measures."""

import numpy as np
import pytest

from helpers.core import data
from helpers.pca import PCA, images


@pytest.fixture(scope="module")
def face():
    return data.load_face(gray=True)


def test_face_is_the_gray_raccoon(face):
    assert face.shape == (768, 1024) and face.dtype == np.uint8
    assert 80 < face.mean() < 140 and face.min() < 10 and face.max() > 245


@pytest.mark.parametrize("method", list(images.RESIZE_METHODS))
def test_resize_gives_height_rows_and_width_columns(face, method):
    resized = images.resize_gray(face, 249, 185, method)
    assert resized.shape == (185, 249)
    assert 0 <= resized.min() and resized.max() <= 255
    assert abs(resized.mean() - face.mean()) < 3  # resampling keeps the brightness


def test_quality_measures():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(40, 50))
    assert images.psnr(image, image) == float("inf")
    assert images.ssim(image, image) == pytest.approx(1.0)
    noisy = image + rng.normal(0, 10, size=image.shape)
    assert images.psnr(image, noisy) == pytest.approx(10 * np.log10(255**2 / 100), abs=0.5)
    assert images.ssim(image, noisy) < images.ssim(image, image + rng.normal(0, 2, size=image.shape))


def test_quality_improves_with_more_components(face):
    image = images.resize_gray(face, 96, 72)
    curve = images.quality_curve(image, PCA().fit(image.T), np.arange(1, 73, 8))
    assert np.all(np.diff(curve["psnr"]) > 0)
    assert curve["ssim"][0] < 0.5 < curve["ssim"][-1]


def test_sensitivity_table_covers_methods_and_orientations(face):
    table = images.components_for_loss_table(face, 96, 72, 0.01)
    assert set(table) == set(images.RESIZE_METHODS)
    assert all(len(row) == 4 and all(1 <= n <= 72 for n in row.values()) for row in table.values())
    with pytest.raises(ValueError, match="unknown resize method"):
        images.resize_gray(face, 10, 10, "magic")


def test_reconstruction_summary_and_the_visible_threshold(face):
    image = images.resize_gray(face, 64, 48)
    pca = PCA().fit(image.T)
    shown = images.reconstructions(image, pca, [48, 20, 3], min_ssim=0.95)
    assert shown[48]["all"] and shown[48]["ssim"] == pytest.approx(1.0) and shown[48]["indistinguishable"]
    assert not shown[3]["indistinguishable"] and shown[3]["loss"] == pytest.approx(pca.energy_loss(3))
    assert shown[20]["image"].shape == image.shape and shown[20]["image"].min() >= 0
    curve = images.full_quality_curve(image, pca)
    assert len(curve["loss"]) == 48 and curve["loss"][-1] == pytest.approx(0.0, abs=1e-12)
    visible = images.visible_threshold(curve, 0.95)
    n = visible["n_components"]
    assert curve["ssim"][n - 1] >= 0.95 and (curve["ssim"][n - 1:] >= 0.95).all() and curve["ssim"][n - 2] < 0.95
    assert images.visible_threshold(curve, 1.5)["n_components"] is None  # SSIM never reaches 1.5
    answer = images.loss_answer(pca, 0.01)
    assert answer["loss"] < 0.01 <= answer["loss_one_fewer"]
