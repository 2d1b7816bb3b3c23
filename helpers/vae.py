"""A variational autoencoder in Keras 3, written with keras.ops only, so that it runs on
TensorFlow (the default), JAX or PyTorch, chosen by KERAS_BACKEND.

Model (as the sheet specifies): a diagonal Gaussian posterior q(z|x) whose mean and log
variance come from an encoder of dense ReLU layers; a likelihood p(x|z) that is a diagonal
Gaussian with a decoder mean and one trainable global standard deviation (or, to compare
with published results, a Bernoulli); a standard normal prior. The loss is the negative
ELBO per sample in nats, with the analytic KL divergence and the Gaussian log-likelihood
including its normalising constant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)
LIKELIHOODS = ("gaussian", "bernoulli")


# --------------------------------------------------------------------------- checks


def check_data(x, *, name: str = "x", value_range: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """Return ``x`` as a float32 (n, d) array, or raise ValueError saying what is wrong.

    ``value_range`` is the closed interval the data must lie in (None: any finite value).
    """
    array = np.asarray(x)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {array.shape}; "
                         "flatten images first, e.g. x.reshape(len(x), -1).")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    if len(array) == 0:
        raise ValueError(f"{name} is empty.")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    if value_range is not None:
        low, high = value_range
        if array.min() < low or array.max() > high:
            hint = "scale images by 1/255" if (low, high) == (0.0, 1.0) else "rescale it with the training set's scaler"
            raise ValueError(f"{name} must lie in [{low:g}, {high:g}] (got [{array.min():.3g}, {array.max():.3g}]); "
                             f"{hint}.")
    return array


# --------------------------------------------------------------------------- losses


def gaussian_nll(x, mean, log_sigma):
    """-log N(x; mean, sigma^2 I) per sample, summed over features (nats)."""
    x = ops.convert_to_tensor(x)
    mean, log_sigma = ops.cast(mean, x.dtype), ops.cast(log_sigma, x.dtype)
    z = (x - mean) * ops.exp(-log_sigma)
    features = ops.cast(ops.shape(x)[-1], x.dtype)
    return ops.sum(0.5 * z * z, axis=-1) + features * (0.5 * LOG_2PI + log_sigma)


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
        if int(latent_dim) < 1 or int(input_dim) < 1 or not hidden or min(hidden) < 1:
            raise ValueError("input_dim, latent_dim and every hidden size must be positive integers.")
        if kl_weight < 0:
            raise ValueError(f"kl_weight must be non-negative, got {kl_weight}.")
        self.input_dim, self.latent_dim = int(input_dim), int(latent_dim)
        self.hidden, self.activation_name = tuple(int(h) for h in hidden), activation
        self.likelihood, self.kl_weight, self.seed = likelihood, float(kl_weight), int(seed)
        self.encoder_layers = [layers.Dense(h, activation=activation, name=f"encoder_{i}")
                               for i, h in enumerate(self.hidden)]
        self.z_mean_layer = layers.Dense(self.latent_dim, name="z_mean")
        self.z_log_var_layer = layers.Dense(self.latent_dim, name="z_log_var")
        self.decoder_layers = [layers.Dense(h, activation=activation, name=f"decoder_{i}")
                               for i, h in enumerate(self.hidden)]
        self.output_layer = layers.Dense(self.input_dim, name="x_mean" if likelihood == "gaussian" else "x_logits")
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
        self.built = True

    # ---------------------------------------------------------------- parts
    def encode(self, x):
        """Posterior parameters: mean and log variance, each (n, latent_dim)."""
        h = x
        for layer in self.encoder_layers:
            h = layer(h)
        return self.z_mean_layer(h), self.z_log_var_layer(h)

    def decoder_output(self, z):
        """The decoder's raw output: the Gaussian mean, or the Bernoulli logits."""
        h = z
        for layer in self.decoder_layers:
            h = layer(h)
        return self.output_layer(h)

    def decode(self, z):
        """The likelihood's mean E[x | z] for latent codes z."""
        out = self.decoder_output(z)
        return ops.sigmoid(out) if self.likelihood == "bernoulli" else out

    def call(self, x, training=False):
        mean, log_var = self.encode(x)
        epsilon = keras.random.normal(ops.shape(mean), seed=self.noise)
        z = mean + ops.exp(0.5 * log_var) * epsilon
        return {"z_mean": mean, "z_log_var": log_var, "decoded": self.decoder_output(z)}

    # ---------------------------------------------------------------- loss
    def elbo_terms(self, x, outputs):
        """Per-sample reconstruction term -E_q[log p(x|z)] (one sample) and KL(q || prior)."""
        if self.likelihood == "gaussian":
            reconstruction = gaussian_nll(x, outputs["decoded"], self.log_sigma)
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


# --------------------------------------------------------------------------- evaluation


def negative_elbo(model: VAE, x, *, batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean negative ELBO (nats per sample) and its two terms on ``x``, one posterior sample each."""
    x = check_data(x, value_range=(0.0, 1.0) if model.likelihood == "bernoulli" else None)
    generator = keras.random.SeedGenerator(seed)
    totals = np.zeros(2)
    for start in range(0, len(x), batch_size):
        batch = ops.convert_to_tensor(x[start:start + batch_size])
        mean, log_var = model.encode(batch)
        z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=generator)
        outputs = {"z_mean": mean, "z_log_var": log_var, "decoded": model.decoder_output(z)}
        reconstruction, kl = model.elbo_terms(batch, outputs)
        totals += [float(ops.sum(reconstruction)), float(ops.sum(kl))]
    reconstruction, kl = totals / len(x)
    return {"negative_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def encode_mean(model: VAE, x, batch_size: int = 2000) -> np.ndarray:
    """Posterior means of ``x``."""
    return np.concatenate([ops.convert_to_numpy(model.encode(ops.convert_to_tensor(x[i:i + batch_size]))[0])
                           for i in range(0, len(x), batch_size)])


def reconstruct(model: VAE, x) -> np.ndarray:
    """Decoded posterior means: the model's reconstruction of ``x``."""
    return ops.convert_to_numpy(model.decode(ops.convert_to_tensor(encode_mean(model, x))))


def generate(model: VAE, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` samples' likelihood means E[x|z] for z drawn from the standard normal prior.

    For images this is what is shown as a "generated digit"; for a density over positions
    use :func:`sample`, which also draws the likelihood's noise.
    """
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32)
    return ops.convert_to_numpy(model.decode(ops.convert_to_tensor(z)))


def sample(model: VAE, n: int, *, seed: int = 0, batch_size: int = 100_000) -> np.ndarray:
    """``n`` draws from the model's p(x) = E_z p(x|z): z from the prior, then x from the likelihood.

    Gaussian: x = mean(z) + sigma * noise; Bernoulli: x in {0, 1} with probability mean(z).
    Without the likelihood's noise, samples would lie on the decoder's image of the latent
    space (a curve for a 1-D latent space) instead of filling the data's support. With the
    same seed, the latent draws are those of :func:`generate`.
    """
    if int(n) < 0:
        raise ValueError(f"n must be non-negative, got {n}.")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((int(n), model.latent_dim)).astype(np.float32)  # the latents generate() uses
    parts = []
    for start in range(0, int(n), batch_size):
        mean = ops.convert_to_numpy(model.decode(ops.convert_to_tensor(z[start:start + batch_size])))
        if model.likelihood == "gaussian":
            parts.append(mean + np.float32(model.sigma) * rng.standard_normal(mean.shape, dtype=np.float32))
        else:
            parts.append((rng.random(mean.shape) < mean).astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, model.input_dim), np.float32)


# --------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines a trained model (and so its cache key)."""

    latent_dim: int = 2
    hidden: tuple[int, ...] = (256, 256)
    likelihood: str = "gaussian"
    kl_weight: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 100
    min_epochs: int = 50
    patience: int = 10
    snapshot_epochs: tuple[int, ...] = (1, 5, 25, 50)
    n_shown: int = 15
    seed: int = 0
    value_range: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self):
        if self.likelihood == "bernoulli" and self.value_range != (0.0, 1.0):
            raise ValueError("a Bernoulli likelihood needs data in [0, 1]; set value_range=(0.0, 1.0).")


@dataclasses.dataclass
class TrainedVAE:
    model: VAE
    history: dict[str, list[float]]
    snapshots: dict[str, dict[str, np.ndarray]]  # "epoch_5", ..., "converged"
    best_epoch: int
    from_cache: bool


def _snapshot(model: VAE, x_test: np.ndarray, n_shown: int, seed: int) -> dict[str, np.ndarray]:
    return {"latent": encode_mean(model, x_test).astype(np.float32),
            "reconstructions": reconstruct(model, x_test[:n_shown]).astype(np.float32),
            "generated": generate(model, n_shown, seed=seed).astype(np.float32)}


class _Snapshots(keras.callbacks.Callback):
    def __init__(self, epochs, x_test, n_shown, seed, store):
        super().__init__()
        self.epochs, self.x_test, self.n_shown, self.seed, self.store = set(epochs), x_test, n_shown, seed, store

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            self.store[f"epoch_{epoch + 1}"] = _snapshot(self.model, self.x_test, self.n_shown, self.seed)


class _TestLoss(keras.callbacks.Callback):
    """Records the test set's negative ELBO after each epoch (when a separate validation set
    decides when to stop)."""

    def __init__(self, x_test, seed, store):
        super().__init__()
        self.x_test, self.seed, self.store = x_test, seed, store

    def on_epoch_end(self, epoch, logs=None):
        self.store.append(negative_elbo(self.model, self.x_test, seed=self.seed)["negative_elbo"])


def cache_key(config: TrainingConfig, x_train: np.ndarray, x_test: np.ndarray,
              x_validation: np.ndarray | None = None) -> str:
    """A key that changes with the configuration, this module's code, the backend and the data."""
    digest = hashlib.sha256()
    digest.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(f"{keras.__version__} {keras.backend.backend()}".encode())
    for array in (x_train, x_test) + (() if x_validation is None else (x_validation,)):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:20]


def compile_for_training(model: VAE, config: TrainingConfig, n_samples: int) -> VAE:
    """Compile ``model`` with Adam so that one compiled call runs a whole epoch.

    The callbacks act at epoch ends only, so nothing is lost; XLA (TensorFlow, JAX) fuses the
    element-wise work of each step. Both change the speed, not the arithmetic.
    """
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  steps_per_execution=math.ceil(n_samples / config.batch_size),
                  jit_compile=keras.backend.backend() != "torch")
    return model


def train_vae(x_train, x_test, config: TrainingConfig, *, x_validation=None,
              cache_dir: str | os.PathLike | None = None, verbose: int = 2) -> TrainedVAE:
    """Train (or load from ``cache_dir``) a VAE; the test loss picks the best epoch.

    Training stops when the test loss has not improved for ``patience`` epochs (but not
    before ``min_epochs``), and the best weights are kept. Snapshots of the test set's
    latent means, reconstructions and generated samples are taken at ``snapshot_epochs``
    and at convergence.

    With ``x_validation``, the validation loss decides instead (history "val_loss"), and the
    test set's negative ELBO is recorded after each epoch as "test_loss": for a test set that
    is not distributed like the training data, stopping on it would fit the model to it.
    """
    x_train = check_data(x_train, name="x_train", value_range=config.value_range)
    x_test = check_data(x_test, name="x_test", value_range=config.value_range)
    checked = [x_train, x_test]
    if x_validation is not None:
        x_validation = check_data(x_validation, name="x_validation", value_range=config.value_range)
        checked.append(x_validation)
    if len({x.shape[1] for x in checked}) != 1:
        raise ValueError(f"the data sets have different numbers of features: {[x.shape[1] for x in checked]}.")
    folder = Path(cache_dir) / cache_key(config, x_train, x_test, x_validation) if cache_dir else None

    def new_model() -> VAE:
        return VAE(x_train.shape[1], config.latent_dim, config.hidden, likelihood=config.likelihood,
                   kl_weight=config.kl_weight, seed=config.seed)

    if folder is not None and (folder / "done").is_file():
        model = new_model()
        model.build((None, x_train.shape[1]))
        model.load_weights(folder / "model.weights.h5")
        meta = json.loads((folder / "history.json").read_text())
        with np.load(folder / "snapshots.npz") as archive:
            snapshots: dict[str, dict[str, np.ndarray]] = {}
            for key in archive.files:
                stage, field = key.split("/")
                snapshots.setdefault(stage, {})[field] = archive[key]
        return TrainedVAE(model, meta["history"], snapshots, meta["best_epoch"], from_cache=True)

    keras.utils.set_random_seed(config.seed)  # before the model exists: its initial weights are seeded
    model = new_model()
    compile_for_training(model, config, len(x_train))
    snapshots = {}
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True,
                                            start_from_epoch=config.min_epochs)
    callbacks = [stopper, _Snapshots(config.snapshot_epochs, x_test, config.n_shown, config.seed, snapshots)]
    test_losses: list[float] = []
    if x_validation is not None:
        callbacks.append(_TestLoss(x_test, config.seed, test_losses))
    fit = model.fit(x_train, None, batch_size=config.batch_size, epochs=config.max_epochs, shuffle=True,
                    validation_data=(x_test if x_validation is None else x_validation, None), verbose=verbose,
                    callbacks=callbacks)
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    if x_validation is not None:
        history["test_loss"] = [float(v) for v in test_losses]
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    snapshots["converged"] = _snapshot(model, x_test, config.n_shown, config.seed)
    if folder is not None:
        _save(folder, model, history, snapshots, best_epoch)
    return TrainedVAE(model, history, snapshots, best_epoch, from_cache=False)


def _save(folder: Path, model: VAE, history, snapshots, best_epoch: int) -> None:
    """Write the cache entry; the marker file is written last, so a partial entry is never used."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "done").unlink(missing_ok=True)
    model.save_weights(folder / "model.weights.h5")
    (folder / "history.json").write_text(json.dumps({"history": history, "best_epoch": best_epoch}))
    np.savez_compressed(folder / "snapshots.npz",
                        **{f"{stage}/{field}": value for stage, fields in snapshots.items()
                           for field, value in fields.items()})
    (folder / "done").write_text("complete\n")
