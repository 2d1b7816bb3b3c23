"""Using a trained VAE (``model``): its loss on data, encodings, reconstructions, samples."""

from __future__ import annotations

import numpy as np

from helpers.core.validation import check_int, validate_data

from . import model as vae

keras, ops = vae.keras, vae.ops


def negative_elbo(model: vae.VAE, x, *, batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean negative ELBO (nats per sample) and its two terms on ``x``, one posterior sample each."""
    x = validate_data(x, name="x", min_samples=1, n_features=model.input_dim, dtype=np.float32,
                      value_range=(0.0, 1.0) if model.likelihood == "bernoulli" else None)
    generator = keras.random.SeedGenerator(seed)
    totals = np.zeros(2)
    for start in range(0, len(x), batch_size):
        batch = ops.convert_to_tensor(x[start:start + batch_size])
        reconstruction, kl = model.elbo_terms(batch, model.pass_through(batch, generator))
        totals += [float(ops.sum(reconstruction)), float(ops.sum(kl))]
    reconstruction, kl = totals / len(x)
    return {"negative_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def encode_mean(model: vae.VAE, x, batch_size: int = 2000) -> np.ndarray:
    """Posterior means of ``x``."""
    return np.concatenate([ops.convert_to_numpy(model.encode(ops.convert_to_tensor(x[i:i + batch_size]))[0])
                           for i in range(0, len(x), batch_size)])


def reconstruct(model: vae.VAE, x) -> np.ndarray:
    """Decoded posterior means: the model's reconstruction of ``x``."""
    return ops.convert_to_numpy(model.decode(ops.convert_to_tensor(encode_mean(model, x))))


def decode(model: vae.VAE, z) -> np.ndarray:
    """The likelihood's means E[x|z] for latent codes ``z`` (n, latent_dim)."""
    z = validate_data(z, name="z", min_samples=1, n_features=model.latent_dim, dtype=np.float32)
    return ops.convert_to_numpy(model.decode(ops.convert_to_tensor(z)))


def prior_draws(model: vae.VAE, n: int, *, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` latent codes from the standard normal prior, from a generator or its seed: the codes
    ``generate`` decodes and ``sample`` starts from, for the same seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((check_int(n, "n", low=0), model.latent_dim)).astype(np.float32)


def generate(model: vae.VAE, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` samples' likelihood means E[x|z] for z drawn from the standard normal prior.

    For images this is what is shown as a "generated digit"; for a density over positions
    use :func:`sample`, which also draws the likelihood's noise.
    """
    z = prior_draws(model, n, seed=seed)
    return decode(model, z) if len(z) else np.zeros((0, model.input_dim), np.float32)


def sample(model: vae.VAE, n: int, *, seed: int = 0, batch_size: int = 100_000) -> np.ndarray:
    """``n`` draws from the model's p(x) = E_z p(x|z): z from the prior, then x from the likelihood.

    Gaussian: x = mean(z) + sigma * noise (sigma(z) for the heteroscedastic likelihood); Bernoulli:
    x in {0, 1} with probability mean(z).
    Without the likelihood's noise, samples would lie on the decoder's image of the latent
    space (a curve for a 1-D latent space) instead of filling the data's support. With the
    same seed, the latent draws are those of :func:`generate`.
    """
    rng = np.random.default_rng(seed)
    z = prior_draws(model, n, seed=rng)  # the codes generate() decodes; the noise follows from the same stream
    parts = []
    for start in range(0, len(z), batch_size):
        codes = ops.convert_to_tensor(z[start:start + batch_size])
        mean = ops.convert_to_numpy(model.decode(codes))
        if model.likelihood == "gaussian":
            parts.append(mean + np.float32(model.sigma) * rng.standard_normal(mean.shape, dtype=np.float32))
        elif model.likelihood == "heteroscedastic":
            sigma = ops.convert_to_numpy(model.decode_sigma(codes))
            parts.append(mean + sigma * rng.standard_normal(mean.shape, dtype=np.float32))
        else:
            parts.append((rng.random(mean.shape) < mean).astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, model.input_dim), np.float32)


def views(model: vae.VAE, x, *, n_shown: int, seed: int = 0) -> dict[str, np.ndarray]:
    """What the figures show of a model: the latent means of ``x``, the reconstructions of its
    first ``n_shown`` rows, and ``n_shown`` generated samples (likelihood means)."""
    return {"latent": encode_mean(model, x), "reconstructions": reconstruct(model, x[:n_shown]),
            "generated": generate(model, n_shown, seed=seed)}


def decode_sigma(model: vae.VAE, z) -> np.ndarray:
    """The Gaussian likelihood's standard deviation per feature for latent codes ``z`` (n, latent_dim):
    the global sigma in every row, or sigma(z) for the heteroscedastic likelihood."""
    if model.likelihood == "bernoulli":
        raise ValueError("a Bernoulli likelihood has no standard deviation to decode.")
    z = validate_data(z, name="z", min_samples=1, n_features=model.latent_dim, dtype=np.float32)
    return ops.convert_to_numpy(model.decode_sigma(ops.convert_to_tensor(z)))


def likelihood_sigma(model: vae.VAE, *, n: int = 10_000, seed: int = 0) -> float:
    """The likelihood's standard deviation (Gaussian likelihoods): the trainable global one, or for the
    heteroscedastic likelihood the mean of sigma(z) over ``n`` codes from the prior and the features."""
    if model.likelihood != "heteroscedastic":
        return model.sigma
    return float(np.mean(decode_sigma(model, prior_draws(model, n, seed=seed))))
