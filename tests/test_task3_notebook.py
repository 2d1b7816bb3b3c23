"""A papermill smoke run of the Task 3 notebook on a small MNIST subset."""

import numpy as np
import pytest

from .conftest import published_figures, smoke_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(smoke_root):
    return smoke_results(smoke_root, "task3")


def test_notebook_writes_every_figure(smoke_root):
    names = published_figures(smoke_root, "task3")
    assert {"latent_2d", "loss_curves", "generated_2d_32d", "latent_low_kl", "digits_low_kl",
            "digits_2d_epoch_1", "digits_2d_epoch_2", "digits_2d_converged"} == names


def test_results_are_consistent(results):
    r = results["results"]
    assert r["n_train"] == 2000 and r["n_test"] == 500
    for d in (2, 4):
        model = r[f"latent_{d}"]
        assert model["epochs_trained"] == len(model["test_curve"]) == 3
        assert model["best_epoch"] == int(np.argmin(model["test_curve"])) + 1
        terms = model["test"]
        assert terms["negative_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
        assert terms["kl"] >= 0 and model["sigma"] > 0
    for q in r["quality"].values():
        assert 0.1 <= q["mean_confidence"] <= 1 and -1e-9 <= q["class_coverage"] <= 1 + 1e-9
        assert sum(q["class_shares"]) == pytest.approx(1.0)
    for b in r["bernoulli"].values():
        assert b["epochs"] == 2 and b["negative_elbo"] > 0  # a Bernoulli likelihood gives positive nats
    assert r["low_kl"]["KL weight 0.1"]["kl"] > 0
