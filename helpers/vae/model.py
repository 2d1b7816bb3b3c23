"""A variational autoencoder in Keras 3, written with keras.ops only, so that it runs on
TensorFlow (the default), JAX or PyTorch, chosen by KERAS_BACKEND.

Model (as the sheet specifies): a diagonal Gaussian posterior q(z|x) whose mean and log
variance come from an encoder of dense ReLU layers; a likelihood p(x|z) that is a diagonal
Gaussian with a decoder mean and one trainable global standard deviation (or, to compare
with published results, a Bernoulli; or, where one sigma blurs dense places, a
"heteroscedastic" Gaussian whose standard deviation per feature sigma(z) comes from a second
decoder head); a standard normal prior. The loss is the negative
ELBO per sample in nats, with the analytic KL divergence and the Gaussian log-likelihood
including its normalising constant.

This module defines the model; ``training`` trains and caches it, ``inference`` uses a
trained one (losses on data, encodings, reconstructions, samples).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _native_stderr_to_null():
    """TensorFlow's native code logs a few start-up lines straight to file descriptor 2 before its
    log level applies; while Keras imports it, they go nowhere. Python's errors are raised as usual."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with _native_stderr_to_null():
    import keras
from keras import layers, ops  # noqa: E402

# Keras calls its compiled functions with batches of new sizes (the last, smaller one; predict on
# other data) and TensorFlow notes each retracing as a warning: expected here, and only noise.
logging.getLogger("tensorflow").addFilter(lambda record: "triggered tf.function retracing" not in record.getMessage())

from helpers.core.validation import check_int, check_real  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)
LIKELIHOODS = ("gaussian", "bernoulli", "heteroscedastic")
#: The heteroscedastic head's log sigma is kept above this (softly): sigma >= about 1e-3 of the data's scale.
LOG_SIGMA_FLOOR = -7.0
#: What the hidden layers may be. Memory and time grow with the weights between consecutive hidden
#: layers (a hundred layers of 4096 units are 1.7 billion of them, gigabytes before the first step), so
#: these are bounded as well as the layers' number and width; two layers of 4096 units are allowed.
MAX_HIDDEN_LAYERS, MAX_LAYER_WIDTH, MAX_HIDDEN_WEIGHTS = 8, 4096, 4096**2


def hidden_weights(hidden) -> int:
    """The number of weights between consecutive hidden layers."""
    return sum(a * b for a, b in zip(hidden, hidden[1:], strict=False))


def check_hidden(hidden) -> tuple[int, ...]:
    """``hidden`` as a tuple of layer widths within the bounds above, or a ValueError saying which bound."""
    hidden = tuple(hidden)
    if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS:
        raise ValueError(f"hidden must name 1 to {MAX_HIDDEN_LAYERS} layer sizes, got {len(hidden)}.")
    for size in hidden:
        check_int(size, "every hidden layer size", high=MAX_LAYER_WIDTH)
    if hidden_weights(hidden) > MAX_HIDDEN_WEIGHTS:
        raise ValueError(f"hidden layers {list(hidden)} hold {hidden_weights(hidden):,} weights between them; at most "
                         f"{MAX_HIDDEN_WEIGHTS:,} are allowed (two layers of {MAX_LAYER_WIDTH}).")
    return tuple(int(size) for size in hidden)


# --------------------------------------------------------------------------- losses


def gaussian_nll(x, mean, log_sigma):
    """-log N(x; mean, diag(sigma^2)) per sample, summed over features (nats); ``log_sigma`` is one
    scalar (the sheet's likelihood) or one value per sample and feature (the heteroscedastic one)."""
    x = ops.convert_to_tensor(x)
    mean, log_sigma = ops.cast(mean, x.dtype), ops.cast(log_sigma, x.dtype)
    z = (x - mean) * ops.exp(-log_sigma)
    features = ops.cast(ops.shape(x)[-1], x.dtype)
    if len(ops.shape(log_sigma)) == 0:
        return ops.sum(0.5 * z * z, axis=-1) + features * (0.5 * LOG_2PI + log_sigma)
    return ops.sum(0.5 * z * z + log_sigma, axis=-1) + features * 0.5 * LOG_2PI


def bernoulli_nll(x, logits):
    """-log Bernoulli(x; sigmoid(logits)) per sample, summed over features (nats)."""
    x = ops.convert_to_tensor(x)
    logits = ops.cast(logits, x.dtype)
    return ops.sum(ops.softplus(logits) - x * logits, axis=-1)


def gaussian_kl(mean, log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per sample, in closed form."""
    mean = ops.convert_to_tensor(mean)
    log_var = ops.cast(log_var, mean.dtype)
    return 0.5 * ops.sum(ops.exp(log_var) + mean * mean - 1.0 - log_var, axis=-1)


def standard_normal(shape, seed):
    """Draws from N(0, I): the numbers ``keras.random.normal(shape, seed=seed)`` gives.

    On TensorFlow with a SeedGenerator it names the algorithm, Philox, that TensorFlow chooses by
    itself: the draws are the same bit for bit (tests/vae/test_model.py), but XLA on the CPU
    compiles the algorithm left to its choice into much slower code (``make bench-vae`` times both).
    """
    if keras.backend.backend() == "tensorflow" and isinstance(seed, keras.random.SeedGenerator):
        import tensorflow as tf

        state = seed.next()  # as keras.random.normal draws it, then casts it for the stateless op
        if state.dtype != tf.int32:
            state = tf.cast(tf.math.floormod(state, tf.int32.max - 1), tf.int32)
        return tf.random.stateless_normal(shape, seed=state, mean=0.0, stddev=1.0, dtype=keras.config.floatx(),
                                          alg="philox")
    return keras.random.normal(shape, seed=seed)


def reparameterize(mean, log_var, seed):
    """z = mean + exp(log_var / 2) * noise: a draw from N(mean, diag(exp(log_var))) that gradients
    pass through; ``seed`` is a keras SeedGenerator (or an int)."""
    mean = ops.convert_to_tensor(mean)
    log_var = ops.cast(log_var, mean.dtype)
    return mean + ops.exp(0.5 * log_var) * standard_normal(ops.shape(mean), seed)


# --------------------------------------------------------------------------- model


@keras.saving.register_keras_serializable(package="mlcms")
class VAE(keras.Model):
    """Variational autoencoder with dense encoder and decoder (see the module docstring).

    Output activations: the posterior mean and log variance and the likelihood mean are
    linear (a mean can be any real number; the log keeps the standard deviation positive
    through exp). The likelihood's standard deviation is exp(log_sigma), one trainable scalar.
    """

    def __init__(self, input_dim: int, latent_dim: int = 2, hidden: tuple[int, ...] = (256, 256),
                 activation: str = "relu", likelihood: str = "gaussian", kl_weight: float = 1.0,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        self.input_dim, self.latent_dim = check_int(input_dim, "input_dim"), check_int(latent_dim, "latent_dim")
        self.hidden = check_hidden(hidden)
        self.activation_name, self.likelihood = activation, likelihood
        self.kl_weight, self.seed = check_real(kl_weight, "kl_weight", low=0), check_int(seed, "seed", low=0)
        self.encoder_layers = [layers.Dense(h, activation=activation, name=f"encoder_{i}")
                               for i, h in enumerate(self.hidden)]
        self.z_mean_layer = layers.Dense(self.latent_dim, name="z_mean")
        self.z_log_var_layer = layers.Dense(self.latent_dim, name="z_log_var")
        self.decoder_layers = [layers.Dense(h, activation=activation, name=f"decoder_{i}")
                               for i, h in enumerate(self.hidden)]
        self.output_layer = layers.Dense(self.input_dim, name="x_logits" if likelihood == "bernoulli" else "x_mean")
        self.log_sigma_layer = (layers.Dense(self.input_dim, name="x_log_sigma") if likelihood == "heteroscedastic"
                                else None)
        self.log_sigma = self.add_weight(shape=(), initializer="zeros", name="log_sigma",
                                         trainable=likelihood == "gaussian")
        self.noise = keras.random.SeedGenerator(self.seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape):
        """Create every layer's weights for inputs of ``input_shape`` (needed before loading weights)."""
        shape = tuple(input_shape)
        for layer in self.encoder_layers:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)
        self.z_mean_layer.build(shape)
        self.z_log_var_layer.build(shape)
        shape = (*shape[:-1], self.latent_dim)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)
        self.output_layer.build(shape)
        if self.log_sigma_layer is not None:
            self.log_sigma_layer.build(shape)
        self.built = True

    # ---------------------------------------------------------------- parts
    def encode(self, x):
        """Posterior parameters: mean and log variance, each (n, latent_dim)."""
        h = x
        for layer in self.encoder_layers:
            h = layer(h)
        return self.z_mean_layer(h), self.z_log_var_layer(h)

    def decoder_hidden(self, z):
        """The decoder's last hidden layer, which its heads read."""
        h = z
        for layer in self.decoder_layers:
            h = layer(h)
        return h

    def decoder_output(self, z):
        """The decoder's raw output: the Gaussian mean, or the Bernoulli logits."""
        return self.output_layer(self.decoder_hidden(z))

    def log_sigma_of(self, h):
        """The heteroscedastic head: log sigma per feature from the decoder's hidden layer ``h``, kept
        above LOG_SIGMA_FLOOR by a softplus (smooth, so the gradient never vanishes)."""
        return LOG_SIGMA_FLOOR + ops.softplus(self.log_sigma_layer(h) - LOG_SIGMA_FLOOR)

    def decode_sigma(self, z):
        """The likelihood's standard deviation at latent codes z, per feature (Gaussian likelihoods)."""
        if self.likelihood == "heteroscedastic":
            return ops.exp(self.log_sigma_of(self.decoder_hidden(z)))
        return ops.exp(self.log_sigma) * ops.ones((ops.shape(z)[0], self.input_dim))

    def decode(self, z):
        """The likelihood's mean E[x | z] for latent codes z."""
        out = self.decoder_output(z)
        return ops.sigmoid(out) if self.likelihood == "bernoulli" else out

    def pass_through(self, x, seed):
        """Encode, draw one z from q(z|x) with noise from ``seed`` (reparameterised), decode.

        (Not named ``forward``: on the PyTorch backend a Keras model is a ``torch.nn.Module``,
        whose ``forward`` Keras calls with the arguments of ``call``.)"""
        mean, log_var = self.encode(x)
        z = reparameterize(mean, log_var, seed)
        if self.likelihood != "heteroscedastic":
            return {"z_mean": mean, "z_log_var": log_var, "decoded": self.decoder_output(z)}
        h = self.decoder_hidden(z)
        return {"z_mean": mean, "z_log_var": log_var, "decoded": self.output_layer(h),
                "x_log_sigma": self.log_sigma_of(h)}

    def call(self, x, training=False):
        return self.pass_through(x, self.noise)

    # ---------------------------------------------------------------- loss
    def elbo_terms(self, x, outputs):
        """Per-sample reconstruction term -E_q[log p(x|z)] (one sample) and KL(q || prior)."""
        if self.likelihood == "gaussian":
            reconstruction = gaussian_nll(x, outputs["decoded"], self.log_sigma)
        elif self.likelihood == "heteroscedastic":
            reconstruction = gaussian_nll(x, outputs["decoded"], outputs["x_log_sigma"])
        else:
            reconstruction = bernoulli_nll(x, outputs["decoded"])
        return reconstruction, gaussian_kl(outputs["z_mean"], outputs["z_log_var"])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction, kl = self.elbo_terms(x, y_pred)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return ops.mean(reconstruction + self.kl_weight * kl)

    @property
    def sigma(self) -> float:
        """The learned global standard deviation of the Gaussian likelihood."""
        return float(np.exp(keras.ops.convert_to_numpy(self.log_sigma)))

    def get_config(self):
        return {"input_dim": self.input_dim, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "activation": self.activation_name, "likelihood": self.likelihood,
                "kl_weight": self.kl_weight, "seed": self.seed, "name": self.name}


