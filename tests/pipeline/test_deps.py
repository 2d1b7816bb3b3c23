"""What a notebook depends on is derived from its code: helpers files, data files, its sweep."""

from helpers.pipeline import deps


def test_a_notebook_depends_on_the_helpers_it_imports_and_theirs():
    found = deps.dependencies("notebooks/task2_diffusion_maps.ipynb")
    assert "helpers/dmaps/estimator.py" in found["helpers"] and "helpers/dmaps/kernels.py" in found["helpers"]
    assert "helpers/dmaps/__init__.py" in found["helpers"] and "helpers/core/validation.py" in found["helpers"]
    assert not any(file.startswith("helpers/vae/") for file in found["helpers"])


def test_relative_imports_and_packages_are_followed():
    assert deps.helper_closure("from helpers.pca import PCA") == [
        "helpers/__init__.py", "helpers/core/__init__.py", "helpers/core/validation.py", "helpers/pca/__init__.py",
        "helpers/pca/estimator.py"]


def test_a_notebook_depends_on_the_data_its_loaders_read():
    assert deps.dependencies("notebooks/task2_diffusion_maps.ipynb")["data"] == ["data_DMAP_PCA_vadere.txt"]
    assert deps.dependencies("notebooks/task3_vae_mnist.ipynb")["data"] == ["mnist.npz"]
    assert deps.dependencies("notebooks/task4_fire_evacuation.ipynb")["data"] == ["FireEvac_test_set.npy",
                                                                                 "FireEvac_train_set.npy"]


def test_a_notebook_with_a_sweep_grid_depends_on_its_table():
    assert deps.dependencies("notebooks/task2_diffusion_maps.ipynb")["sweeps"] == []
    assert deps.dependencies("notebooks/task4_fire_evacuation.ipynb")["sweeps"] == [
        "build/sweeps/task4_fire_evacuation.json"]
    rules = deps.make_rules("params/sweeps/task4_fire_evacuation.yaml")
    assert "SWEEP_NOTEBOOK_task4_fire_evacuation := notebooks/sweeps/task4_vae_config.ipynb" in rules


def test_the_notebooks_that_train_keras_models_depend_on_the_backend():
    assert deps.dependencies("notebooks/task3_vae_mnist.ipynb")["keras"]
    assert not deps.dependencies("notebooks/task1_pca.ipynb")["keras"]
