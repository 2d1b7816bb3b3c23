"""A papermill smoke run of the Task 3 notebook on a small MNIST subset."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TASK = "task3_vae_mnist"


def test_the_validation_split_chooses_and_the_test_set_reports(results):
    r = results["results"]
    assert (r["n_train"], r["n_validation"], r["n_test"]) == (2000, 500, 500)
    for d in ("2", "4"):
        model = r["models"][d]
        curve = model["validation_curve"]
        assert model["epochs_trained"] == len(curve) == len(model["training_curve"]) == 3
        assert model["best_epoch"] == int(np.argmin(curve)) + 1
        assert model["stopped_before_limit"] is False
        terms = model["test"]
        assert terms["negative_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
        assert terms["kl"] >= 0 and model["sigma"] > 0


def test_quality_measures_are_consistent_with_their_class_shares(results):
    r = results["results"]
    assert 0.5 < r["classifier_accuracy"] <= 1
    for name, q in r["quality"].items():
        shares = np.array(q["class_shares"])
        assert shares.sum() == pytest.approx(1.0), name
        present = shares[shares > 0]
        assert q["class_coverage"] == pytest.approx(-np.sum(present * np.log(present)) / np.log(10)), name
        assert (q["rarest_share"], q["commonest_share"]) == (shares.min(), shares.max())


def test_the_stated_facts_follow_from_the_numbers(results):
    r = results["results"]
    small, large = r["models"]["2"]["test"], r["models"]["4"]["test"]
    facts = r["loss_against_samples"]
    assert facts["lower_loss"] == (large["negative_elbo"] < small["negative_elbo"])
    confident = r["quality"]["generated, 4-D"]["mean_confidence"] > r["quality"]["generated, 2-D"]["mean_confidence"]
    assert facts["more_confident"] == confident
    assert facts["loss_goes_with_samples"] == (facts["lower_loss"] == facts["more_confident"])
    full, low, effect = r["low_kl"]["KL weight 1"], r["low_kl"]["KL weight 0.1"], r["low_kl"]["effect"]
    assert effect["better_reconstruction"] == (low["reconstruction"] < full["reconstruction"])
    assert effect["kl_rises"] == (low["kl"] > full["kl"])
    for b in r["bernoulli"].values():
        assert b["epochs"] == 2 and b["negative_elbo"] > 0  # a Bernoulli likelihood gives positive nats
    gap = r["bernoulli"]["2"]["negative_elbo"] - r["bernoulli"]["4"]["negative_elbo"]
    assert r["bernoulli_gap"]["gap"] == pytest.approx(gap) and r["bernoulli_gap"]["larger_is_lower"] == (gap > 0)


def test_the_manifold_is_read_for_every_stage(results):
    manifold = results["results"]["manifold"]
    assert set(manifold["stages"]) == {"epoch_1", "epoch_2", "converged"}
    for stage in manifold["stages"].values():
        assert stage["n_digits"] == len(stage["digits"]) and 1 <= stage["n_digits"] <= 10
        assert sorted(stage["digits"] + stage["missing_digits"]) == list(range(10))
        assert 0 <= stage["unsure_share"] <= 1 and stage["unsure_below"] == 0.5
        counts = [p["count"] for p in stage["meeting_pairs"]]
        assert counts == sorted(counts, reverse=True)
        assert all(a < b for a, b in (p["pair"] for p in stage["meeting_pairs"]))
