"""Each notebook's smoke run publishes every figure it promises, as PDF and PNG."""

import pytest

from ..conftest import published_figures, require_datafold

pytestmark = pytest.mark.slow

FIGURES = {
    "task1_pca": {"pca_2d_directions", "pca_2d_projection", "face_reconstructions", "face_energy_loss", "face_ssim",
                  "pedestrian_paths", "pedestrian_energy"},
    "task2_diffusion_maps": {"periodic_eigenfunctions", "swiss_roll_data", "swiss_roll_eigenfunctions",
                             "swiss_roll_residuals", "swiss_roll_pca", "swiss_roll_small_eigenfunctions",
                             "swiss_roll_datafold", "pedestrians_embedding", "pedestrians_false_neighbours"},
    "task3_vae_mnist": {"latent_2d", "loss_curves", "generated_2d_32d", "latent_low_kl", "digits_low_kl",
                        "digits_2d_epoch_1", "digits_2d_epoch_2", "digits_2d_converged", "manifold_2d",
                        "manifold_2d_training"},
    "task4_fire_evacuation": {"data", "loss_curves", "reconstructions", "generated", "critical_number",
                              "evacuation_map", "people_out"},
}


@pytest.mark.parametrize("task", FIGURES)
def test_a_notebook_publishes_every_figure(smoke_root, task):
    if task == "task2_diffusion_maps":
        require_datafold()  # its comparison figure needs datafold's environment
    assert published_figures(smoke_root, task) == FIGURES[task]
