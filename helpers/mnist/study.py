"""The Task 3 study: the sheet's VAEs on MNIST, what they are measured by, and the facts the
report states about them (computed here, so that the notebook only narrates)."""

from __future__ import annotations

import numpy as np

from helpers.vae import inference as vae_inference
from helpers.vae.training import TrainedVAE, TrainingConfig, train_many

from .classifier import generation_quality
from .data import Split
from .latent_manifold import manifold


def train(splits: dict[str, Split], configs: dict, *, cache_dir=None, verbose: bool = True) -> dict[object, TrainedVAE]:
    """Train (or load) one model per configuration on the training split, at the same time where
    there are several (``helpers.vae.training.train_many``); the validation split chooses each model's
    epoch, the test split is not used."""
    return train_many(splits["train"].x, splits["validation"].x, configs, cache_dir=cache_dir, verbose=verbose)


def study_configs(sheet: TrainingConfig, latent_dims, *, low_kl_weight: float, bernoulli_epochs: int,
                  seeds=(0,)) -> dict:
    """Every model the Task 3 study trains, by ``(kind, latent_dim, seed)``: the sheet's Gaussian VAE
    for each latent dimension ("gaussian") and the first of them with the KL term weighted by
    ``low_kl_weight`` ("low_kl"), each with every seed of ``seeds`` (its starting weights, batch order
    and posterior noise; the data split stays), and the Bernoulli likelihood for each dimension,
    ``bernoulli_epochs`` long, with the first seed ("bernoulli")."""
    bernoulli = sheet.replace(likelihood="bernoulli", max_epochs=bernoulli_epochs, min_epochs=bernoulli_epochs,
                              snapshot_epochs=[], seed=seeds[0])
    small = latent_dims[0]
    return {**{("gaussian", d, s): sheet.replace(latent_dim=d, seed=s) for s in seeds for d in latent_dims},
            **{("low_kl", small, s): sheet.replace(latent_dim=small, kl_weight=low_kl_weight, snapshot_epochs=[],
                                                    seed=s) for s in seeds},
            **{("bernoulli", d, seeds[0]): bernoulli.replace(latent_dim=d) for d in latent_dims}}


def by_kind(trained: dict, kind: str) -> dict:
    """``{latent_dim: model}`` of one kind of ``study_configs``' models, with the first seed."""
    return {d: models[0] for d, models in by_seed(trained, kind).items()}


def by_seed(trained: dict, kind: str) -> dict:
    """``{latent_dim: [model per seed]}`` of one kind of ``study_configs``' models, in the order of the seeds."""
    result: dict = {}
    for (name, d, _), model in trained.items():
        if name == kind:
            result.setdefault(d, []).append(model)
    return result


def spread(values) -> dict:
    """What a number resting on several trained models is: their count, mean, standard deviation
    (None for one model) and range."""
    values = np.asarray(values, dtype=float)
    return {"models": len(values), "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
            "low": float(values.min()), "high": float(values.max())}


def summary(trained: TrainedVAE, test: Split, *, seed: int = 0) -> dict:
    """How a trained model did: epochs, best epoch, whether it stopped before the limit, its
    negative ELBO and terms on the test set, the likelihood's sigma, and its loss curves."""
    return {"epochs_trained": trained.epochs_trained, "best_epoch": trained.best_epoch,
            "stopped_before_limit": trained.stopped_before_limit,
            "test": vae_inference.negative_elbo(trained.model, test.x, seed=seed), "sigma": trained.model.sigma,
            "training_curve": trained.history["training_loss"],
            "validation_curve": trained.history["validation_loss"]}


def stages(trained: TrainedVAE, snapshot_epochs) -> dict[str, tuple[str, object]]:
    """The model after each snapshot epoch it reached, then at its best epoch: {key: (title, model)},
    keyed "epoch_<n>" or "converged"."""
    shown = {f"epoch_{epoch}": (f"after epoch {epoch}", trained.at_epoch(epoch)) for epoch in snapshot_epochs
             if epoch <= trained.epochs_trained}
    shown["converged"] = (f"converged (epoch {trained.best_epoch})", trained.model)
    return shown


def stage_views(trained: TrainedVAE, snapshot_epochs, x, *, n_shown: int, seed: int = 0) -> dict[str, dict]:
    """For each stage (see stages): its title, the latent means of ``x``, the reconstructions of its
    first ``n_shown`` rows and ``n_shown`` generated digits."""
    return {key: {"title": title, **vae_inference.views(model, x, n_shown=n_shown, seed=seed)}
            for key, (title, model) in stages(trained, snapshot_epochs).items()}


def stage_manifolds(trained: TrainedVAE, snapshot_epochs, classifier, n: int, *, unsure_below: float = 0.5) -> dict:
    """The decoder's latent manifold (latent_manifold.manifold) for each stage (see stages), with its title."""
    return {key: {"title": title, **manifold(model, classifier, n, unsure_below=unsure_below)}
            for key, (title, model) in stages(trained, snapshot_epochs).items()}


def manifold_summary(manifolds: dict, *, top: int = 3) -> dict:
    """What the report states of each stage's manifold: its digits, the missing ones, the share of
    unsure tiles, and the ``top`` most frequent meeting pairs."""
    return {key: {"title": m["title"], "digits": m["digits"], "n_digits": m["n_digits"],
                  "missing_digits": m["missing_digits"], "unsure_share": m["unsure_share"],
                  "unsure_below": m["unsure_below"], "meeting_pairs": m["meeting_pairs"][:top]}
            for key, m in manifolds.items()}


def quality(classifier, models: dict, test: Split, *, n_samples: int, seed: int = 0) -> dict[str, dict]:
    """Generation quality of real test digits and of ``n_samples`` digits generated by each model."""
    result = {"test digits": generation_quality(classifier, test.x)}
    for name, trained in models.items():
        result[name] = generation_quality(classifier, vae_inference.generate(trained.model, n_samples, seed=seed))
    return result


def prior_gap(trained: TrainedVAE, test: Split, generated_quality: dict, *, seed: int = 0) -> dict:
    """How far the encoded test set is from the prior N(0, I): the norm of its mean and its
    standard deviation per axis; with the test loss terms and the quality of generated digits."""
    codes = vae_inference.encode_mean(trained.model, test.x)
    return {**vae_inference.negative_elbo(trained.model, test.x, seed=seed),
            "latent_mean_norm": float(np.linalg.norm(codes.mean(axis=0))), "latent_std": codes.std(axis=0).tolist(),
            "quality": generated_quality}
