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


def test_each_seed_trains_its_own_models_and_their_spread_is_reported(results):
    r = results["results"]
    seeds = r["seeds"]
    assert seeds["seeds"] == [0, 1] and results["parameters"]["seeds"] == 2
    for d in ("2", "4"):
        per_seed = seeds["per_seed"][d]
        assert [m["seed"] for m in per_seed] == [0, 1]
        assert per_seed[0]["test"] == r["models"][d]["test"]  # the first seed's model is the one the figures show
        elbos = [m["test"]["negative_elbo"] for m in per_seed]
        assert elbos[0] != elbos[1]  # another seed, another model
        spread = seeds["test_negative_elbo"][d]
        assert spread["models"] == 2 and spread["mean"] == pytest.approx(np.mean(elbos))
        assert spread["sd"] == pytest.approx(np.std(elbos, ddof=1))


def test_the_stated_facts_follow_from_the_numbers_of_every_seed(results):
    r = results["results"]
    small, large = r["seeds"]["per_seed"]["2"], r["seeds"]["per_seed"]["4"]
    facts = r["loss_against_samples"]
    assert facts["lower_loss"] == [b["test"]["negative_elbo"] < a["test"]["negative_elbo"]
                                   for a, b in zip(small, large, strict=True)]
    assert facts["better_reconstruction"] == [b["test"]["reconstruction"] < a["test"]["reconstruction"]
                                              for a, b in zip(small, large, strict=True)]
    confident = r["quality"]["generated, 4-D"]["mean_confidence"] > r["quality"]["generated, 2-D"]["mean_confidence"]
    assert len(facts["more_confident"]) == 2 and facts["more_confident"][0] == confident
    assert facts["loss_goes_with_samples"] == [loss == sure for loss, sure in
                                               zip(facts["lower_loss"], facts["more_confident"], strict=True)]
    full, low, effect = r["low_kl"]["KL weight 1"], r["low_kl"]["KL weight 0.1"], r["low_kl"]["effect"]
    assert effect["better_reconstruction"] == (low["reconstruction"] < full["reconstruction"])
    assert effect["kl_rises"] == (low["kl"] > full["kl"])
    assert len(r["low_kl"]["separates"]) == 2 and r["low_kl"]["separates"][0] == effect["separates"]
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


def test_hidden_layers_beyond_what_the_machine_holds_stop_the_first_cell(tmp_path):
    import papermill

    from ..conftest import run_notebook

    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook(TASK, tmp_path, hidden=[4096] * 100)
    assert "parameter 'hidden' = [4096, 4096," in str(info.value)
    assert "must be 1 to 8 layer sizes from 1 to 4096 with at most 16,777,216 weights" in str(info.value)
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()
