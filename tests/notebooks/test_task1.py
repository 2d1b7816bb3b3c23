"""A papermill smoke run of the Task 1 notebook: its computed results and its parameter checks."""

import numpy as np
import pytest

from helpers.core import data
from helpers.pca import PCA, images

from ..conftest import run_notebook

pytestmark = pytest.mark.slow

TASK = "task1_pca"


def test_results_agree_with_an_independent_computation(results):
    energy_2d = np.linalg.eigvalsh(np.cov(data.load_pca_dataset(), rowvar=False))[::-1]
    np.testing.assert_allclose(results["results"]["dataset_2d"]["energy"], energy_2d / energy_2d.sum(), rtol=1e-9)

    face = results["results"]["face"]
    image = images.resize_gray(data.load_face(), face["shape"][1], face["shape"][0])
    singular = np.linalg.svd(image.T - image.T.mean(axis=0), compute_uv=False)
    loss = 1 - np.cumsum(singular**2) / np.sum(singular**2)
    assert face["n_components_under_loss"] == int(np.argmax(loss < 0.01)) + 1
    assert face["ssim"][str(face["n_components_total"])] == pytest.approx(1.0, abs=1e-9)

    ped = results["results"]["pedestrians"]
    assert ped["n_components_for_energy"] == 3  # two components hold about 85%, three over 99%
    assert 0.8 < ped["cumulative_energy"][1] < 0.9 < ped["cumulative_energy"][2]
    assert results["parameters"]["image_width"] == 96


def test_default_image_answer_is_computed_not_typed():
    # The convention of the report (249 wide, 185 high, columns as points, bicubic) on the real image.
    image = images.resize_gray(data.load_face(), 249, 185)
    pca = PCA().fit(image.T)
    n = pca.n_components_for_loss(0.01)
    assert 70 <= n <= 120  # within the published range for this image
    assert pca.energy_loss(n) < 0.01 <= pca.energy_loss(n - 1)


def test_wrongly_typed_parameter_stops_the_notebook_with_a_clear_message(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook("task1_pca", tmp_path, image_width="wide")
    assert "parameter 'image_width' must be int, got str 'wide'" in str(info.value)
    assert not (tmp_path / "results" / "task1_pca.json").exists()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pedestrians_shown": [99]}, "'pedestrians_shown' = [99] is invalid: must be a non-empty list whose every"),
    ({"image_width": 0}, "'image_width' = 0 is invalid: must be in [2, 1024]"),
    ({"image_width": 100000, "image_height": 100000}, "'image_width' = 100000 is invalid: must be in [2, 1024]"),
    ({"max_energy_loss": 1.5}, "'max_energy_loss' = 1.5 is invalid: must be a share in (0, 1)"),
])
def test_out_of_range_parameters_stop_the_notebook_naming_parameter_and_range(tmp_path, overrides, message):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook("task1_pca", tmp_path, **overrides)
    assert message in str(info.value)


def test_a_misspelled_parameter_given_to_papermill_stops_the_notebook_with_the_closest_name(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook("task1_pca", tmp_path, image_widht=100)
    assert "unknown parameter 'image_widht' (did you mean 'image_width'?)" in str(info.value)
    assert not (tmp_path / "figures").exists() and not (tmp_path / "results").exists()


def test_every_wrong_parameter_is_named_first_and_the_kernel_is_quiet(tmp_path, capfd):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError):
        run_notebook("task1_pca", tmp_path, resize_methd="x", image_width=5000)
    said = capfd.readouterr().err
    assert "error: 2 parameters are wrong:\n  1. unknown parameter 'resize_methd' (did you mean 'resize_method'?)" \
        in said
    assert "\n  2. parameter 'image_width' = 5000 is invalid: must be in [2, 1024]." in said
    assert "without encryption" not in said  # the kernel talks over a Unix socket
