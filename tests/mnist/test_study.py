"""The Task 3 study's models by seed, and the spread of a number over them."""

import numpy as np
import pytest

from helpers.mnist import study
from helpers.vae.training import TrainingConfig


def test_every_seed_trains_the_gaussian_and_low_kl_models_and_bernoulli_trains_once():
    configs = study.study_configs(TrainingConfig(hidden=(16,), max_epochs=4, min_epochs=1), [2, 32], low_kl_weight=0.1,
                                  bernoulli_epochs=3, seeds=[5, 6])
    assert sorted(configs) == sorted([("gaussian", 2, 5), ("gaussian", 32, 5), ("gaussian", 2, 6),
                                      ("gaussian", 32, 6), ("low_kl", 2, 5), ("low_kl", 2, 6),
                                      ("bernoulli", 2, 5), ("bernoulli", 32, 5)])
    assert all(config.seed == name[2] for name, config in configs.items())
    assert configs[("low_kl", 2, 6)].kl_weight == 0.1 and configs[("bernoulli", 32, 5)].max_epochs == 3
    # the models come back per latent dimension in the order of the seeds; by_kind takes the first seed's
    fake = {name: f"{name[0]}-{name[1]}-{name[2]}" for name in configs}
    assert study.by_seed(fake, "gaussian") == {2: ["gaussian-2-5", "gaussian-2-6"],
                                               32: ["gaussian-32-5", "gaussian-32-6"]}
    assert study.by_kind(fake, "low_kl") == {2: "low_kl-2-5"}


def test_the_spread_over_seeds_is_the_sample_spread():
    values = [-190.9, -191.9, -189.4]
    spread = study.spread(values)
    assert spread["models"] == 3 and spread["mean"] == pytest.approx(np.mean(values))
    assert spread["sd"] == pytest.approx(np.std(values, ddof=1))
    assert (spread["low"], spread["high"]) == (-191.9, -189.4)
    assert study.spread([4.0])["sd"] is None
