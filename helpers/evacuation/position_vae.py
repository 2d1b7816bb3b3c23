"""The Task 3 VAE as a density of positions (Task 4): scaling with the training set's range,
a seeded validation split that stops training and chooses, evaluation in metres, a sampler."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import MinMaxScaler

from helpers.core.splits import holdout
from helpers.core.validation import validate_data
from helpers.vae import inference as vae_inference
from helpers.vae.training import TrainedVAE, TrainingConfig, train_each

from .critical_number import ENTRANCE, Sampler, in_rectangle
from .densities import sample_quality

#: Share of the training positions held out to decide when training stops and which
#: configuration wins; the test set is distributed differently and only reports.
VALIDATION_FRACTION = 0.2
#: The configuration settings a sweep varies and a notebook may override.
MODEL_SETTINGS = ("hidden", "latent_dim", "likelihood", "kl_weight", "learning_rate", "max_epochs", "batch_size",
                  "seed")


def vae_config(*, hidden=(128, 128), latent_dim: int = 4, likelihood: str = "gaussian", kl_weight: float = 1.0,
               learning_rate: float = 1e-3, max_epochs: int = 1000, batch_size: int = 32, seed: int = 0,
               snapshot_epochs=(1, 10, 50)) -> TrainingConfig:
    """The training configuration of a VAE for positions: the swept settings (the likelihood: the
    sheet's one global sigma, "gaussian", or sigma(z) per position, "heteroscedastic") plus fixed
    ones: the learning rate falls along a cosine to zero over ``max_epochs``, training runs all of
    them and keeps the epoch with the lowest validation loss; the weights after the snapshot epochs
    reached are kept; scaled data may leave [-1, 1].

    Why a schedule and no early stop: on these positions the validation loss still falls after
    thousands of updates, by less per few dozen epochs than it fluctuates at a fixed learning rate,
    so stopping after a run of epochs without improvement stops on noise, at an epoch that another
    CPU's rounding moves. A rate that falls to zero ends training after the same number of epochs
    everywhere."""
    if likelihood not in ("gaussian", "heteroscedastic"):
        raise ValueError(f"a VAE of positions has a Gaussian likelihood, gaussian or heteroscedastic; got "
                         f"{likelihood!r}.")
    return TrainingConfig(latent_dim=latent_dim, hidden=tuple(hidden), likelihood=likelihood,
                          kl_weight=float(kl_weight), learning_rate=float(learning_rate), batch_size=batch_size,
                          max_epochs=max_epochs, min_epochs=max_epochs, patience=max_epochs, schedule="cosine",
                          seed=seed, value_range=None,
                          snapshot_epochs=tuple(e for e in snapshot_epochs if e <= max_epochs))


def fit_scaler(train) -> MinMaxScaler:
    """Rescale to [-1, 1] with the training set's minimum and maximum; applied unchanged to other
    data and inverted for generated samples (test data is never rescaled with its own range)."""
    train = validate_data(train, name="train", n_features=2)
    if np.any(np.ptp(train, axis=0) == 0):
        raise ValueError("a coordinate is constant in the training data; it cannot be rescaled.")
    return MinMaxScaler(feature_range=(-1, 1)).fit(train)


def validation_split(train, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (fit, validation) positions of the seeded hold-out split."""
    fit, validation = holdout(len(train), VALIDATION_FRACTION, seed=seed)
    return train[fit], train[validation]


def fit_vae(train, test, config: TrainingConfig, *, cache_dir=None,
            verbose: bool = True) -> tuple[TrainedVAE, MinMaxScaler]:
    """Scale the positions with the training set's scaler and train (or load) a VAE on them.

    A seeded share of the training positions (``VALIDATION_FRACTION``) is held out: its loss
    decides when training stops and which epoch is kept. The test loss is recorded each epoch
    ("test_loss") and decides nothing. Returns the trained VAE and the scaler (fitted on all
    training positions).
    """
    models, scaler = fit_ensemble(train, test, config, [config.seed], cache_dir=cache_dir, verbose=verbose)
    return models[0], scaler


def fit_ensemble(train, test, config: TrainingConfig, seeds, *, cache_dir=None,
                 verbose: bool = True) -> tuple[list[TrainedVAE], MinMaxScaler]:
    """One VAE of ``config`` per seed of ``seeds`` (fit_vae): each holds out its own seeded validation
    split and starts from its own seeded weights, so that their spread is what training moves. The
    missing ones train at the same time (``helpers.vae.training.train_each``); each is cached, so a
    sweep's run of the same configuration and seed is the same model. Returns the models, in the
    order of ``seeds``, and the scaler."""
    train = validate_data(train, name="train", n_features=2)
    test = validate_data(test, name="test", min_samples=1, n_features=2)
    scaler = fit_scaler(train)

    def scaled(points):
        return scaler.transform(points).astype(np.float32)

    jobs = {f"seed {seed}": tuple(map(scaled, validation_split(train, seed))) + (config.replace(seed=seed),)
            for seed in seeds}
    trained = train_each(jobs, x_test=scaled(test), cache_dir=cache_dir, verbose=verbose)
    return list(trained.values()), scaler


def sampler(model, scaler: MinMaxScaler) -> Sampler:
    """A sampler of positions from a VAE trained on scaled positions: draws from its p(x)
    (latent prior, then the likelihood's noise) and maps them back with the training scaler."""

    def draw(n, rng):
        return scaler.inverse_transform(vae_inference.sample(model, n, seed=int(rng.integers(2**63))))

    return draw


def ensemble_sampler(models, scaler: MinMaxScaler) -> Sampler:
    """A sampler of positions from an ensemble's mixture p(x) = mean of the models' p(x): each position
    comes from a model picked uniformly at random."""
    samplers = [sampler(model, scaler) for model in models]

    def draw(n, rng):
        which = rng.integers(len(samplers), size=n)
        points = np.empty((n, 2))
        for index, draw_one in enumerate(samplers):
            chosen = np.flatnonzero(which == index)
            if len(chosen):
                points[chosen] = draw_one(len(chosen), rng)
        return points

    return draw


def sigma_in_metres(trained: TrainedVAE, scaler: MinMaxScaler) -> float:
    """The likelihood's standard deviation in metres (its scaled value, the mean of sigma(z) for the
    heteroscedastic likelihood, times half the mean range)."""
    return float(vae_inference.likelihood_sigma(trained.model) * np.mean(scaler.data_range_) / 2.0)


def entrance_budget(models, scaler: MinMaxScaler, *, n: int = 100_000, seed: int = 0, rectangle=ENTRANCE) -> dict:
    """Where a VAE's share of people inside ``rectangle`` comes from, for ``n`` codes z from the prior
    (the same codes for every quantity) and the mean over ``models`` of each:

    - ``means_inside``: the share of the decoder's means mu(z) inside, the share without the
      likelihood's noise;
    - ``samples_inside``: the share of the samples mu(z) + sigma(z) * noise inside (what the critical
      number rests on);
    - ``sigma_metres`` and ``sigma_metres_inside``: the likelihood's standard deviation in metres
      (mean over the features) over all codes, and over the codes whose mean lies inside (over the
      models with such codes; None if no model has one).

    Noise of width sigma moves mass out of a small dense area more than into it; a sigma(z) per position
    keeps the area sharp only where it is narrower inside than elsewhere.
    """
    models = list(models)
    if not models:
        raise ValueError("the entrance budget needs at least one model.")
    metres = np.asarray(scaler.data_range_) / 2.0
    rows = []
    for model in models:
        z = vae_inference.prior_draws(model, n, seed=seed)
        inside = in_rectangle(scaler.inverse_transform(vae_inference.decode(model, z)), rectangle)
        sigma = np.mean(vae_inference.decode_sigma(model, z) * metres, axis=1)
        samples = scaler.inverse_transform(vae_inference.sample(model, n, seed=seed))
        rows.append((inside.mean(), in_rectangle(samples, rectangle).mean(), sigma.mean(),
                     sigma[inside].mean() if inside.any() else float("nan")))
    rows = np.array(rows)
    inside_sigmas = rows[~np.isnan(rows[:, 3]), 3]
    return {"models": len(models), "means_inside": float(rows[:, 0].mean()), "samples_inside": float(rows[:, 1].mean()),
            "sigma_metres": float(rows[:, 2].mean()),
            "sigma_metres_inside": float(inside_sigmas.mean()) if len(inside_sigmas) else None}


def evaluate_vae(trained: TrainedVAE, scaler: MinMaxScaler, train, test, *, n_samples: int = 100_000, seed: int = 0,
                 elbo_repeats: int = 20) -> dict:
    """The VAE's negative ELBO on the held-out validation positions and on the test set (full
    KL term; ``elbo_repeats`` posterior samples per position), and the quality of ``n_samples``
    positions drawn from its p(x)."""
    _, validation = validation_split(train, trained.model.seed)

    def elbo(points):
        repeated = np.tile(scaler.transform(points).astype(np.float32), (elbo_repeats, 1))
        return vae_inference.negative_elbo(trained.model, repeated, seed=seed)["negative_elbo"]

    samples = scaler.inverse_transform(vae_inference.sample(trained.model, n_samples, seed=seed))
    return {"validation_negative_elbo": elbo(validation), "test_negative_elbo": elbo(test),
            "sigma": vae_inference.likelihood_sigma(trained.model), "sigma_metres": sigma_in_metres(trained, scaler),
            "epochs_trained": trained.epochs_trained, "best_epoch": trained.best_epoch,
            "best_validation_loss": min(trained.history["validation_loss"]),
            **sample_quality(samples, train, test)}


def stage_reconstructions(trained: TrainedVAE, scaler: MinMaxScaler, points) -> dict[str, np.ndarray]:
    """The reconstruction of ``points`` (metres) after each kept snapshot epoch and at the best epoch."""
    scaled = scaler.transform(points).astype(np.float32)
    stages = {f"after epoch {epoch}": trained.at_epoch(epoch) for epoch in sorted(trained.snapshot_weights)}
    stages[f"converged (epoch {trained.best_epoch})"] = trained.model
    return {title: scaler.inverse_transform(vae_inference.reconstruct(model, scaled))
            for title, model in stages.items()}


def draws(trained: TrainedVAE, scaler: MinMaxScaler, n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` positions from p(x) ("samples", with the likelihood's noise) and the decoder's means for
    the same latent draws ("means"), in metres."""
    return {"samples": scaler.inverse_transform(vae_inference.sample(trained.model, n, seed=seed)),
            "means": scaler.inverse_transform(vae_inference.generate(trained.model, n, seed=seed))}
