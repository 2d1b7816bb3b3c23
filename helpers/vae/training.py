"""Training a VAE (``model``) with model selection on a validation set, and caching it.

The validation loss decides everything that chooses: training stops when it has not improved
for ``patience`` epochs (not before ``min_epochs``), and the weights of its best epoch are kept.
A test set, if given, is only measured after each epoch (``history["test_loss"]``). The weights
after each of ``snapshot_epochs`` are kept too, so that figures of the model during training are
drawn from them later, with whatever display settings, without retraining.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from helpers.core import timings
from helpers.core.cache import FolderCache, digest
from helpers.core.executor import Board, cores, failures, run_all
from helpers.core.files import write_atomic
from helpers.core.validation import check_int, check_real, validate_data
from helpers.core.versions import installed

from . import model as vae
from . import pool_job

keras = vae.keras

#: Names of the per-epoch histories: Keras' names on the left, ours on the right.
HISTORY_NAMES = {"loss": "training_loss", "reconstruction": "training_reconstruction", "kl": "training_kl",
                 "val_loss": "validation_loss", "val_reconstruction": "validation_reconstruction",
                 "val_kl": "validation_kl"}


#: The learning-rate schedules a configuration may name.
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines a trained model (its cache key), plus the epochs whose weights
    are kept for figures (``snapshot_epochs``, which do not change the model)."""

    latent_dim: int = 2
    hidden: tuple[int, ...] = (256, 256)
    likelihood: str = "gaussian"
    kl_weight: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 100
    min_epochs: int = 50
    patience: int = 10
    #: How the learning rate moves: held at ``learning_rate`` ("constant"), or falling from it to zero
    #: along half a cosine over ``max_epochs`` ("cosine"; Loshchilov & Hutter, 2017, without restarts).
    schedule: str = "constant"
    seed: int = 0
    value_range: tuple[float, float] | None = (0.0, 1.0)
    snapshot_epochs: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "snapshot_epochs", tuple(sorted(set(self.snapshot_epochs))))
        for name in ("latent_dim", "batch_size", "max_epochs", "patience"):
            check_int(getattr(self, name), name)
        object.__setattr__(self, "hidden", vae.check_hidden(self.hidden))
        check_int(self.min_epochs, "min_epochs", low=0, high=self.max_epochs)
        if self.likelihood not in vae.LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {vae.LIKELIHOODS}, got {self.likelihood!r}.")
        check_real(self.learning_rate, "learning_rate", positive=True)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        check_real(self.kl_weight, "kl_weight", low=0)
        for epoch in self.snapshot_epochs:
            if not 1 <= epoch <= self.max_epochs:
                raise ValueError(f"snapshot epoch {epoch} is outside 1..max_epochs = {self.max_epochs}.")
        if self.likelihood == "bernoulli" and self.value_range != (0.0, 1.0):
            raise ValueError("a Bernoulli likelihood needs data in [0, 1]; set value_range=(0.0, 1.0).")

    def replace(self, **changes) -> TrainingConfig:
        """A copy with ``changes`` (checked like a new configuration)."""
        return dataclasses.replace(self, **changes)

    def model_settings(self) -> dict:
        """The settings that determine the trained model (all but the snapshot epochs)."""
        settings = dataclasses.asdict(self)
        del settings["snapshot_epochs"]
        return settings


@dataclasses.dataclass
class TrainedVAE:
    """A trained model (best weights), its per-epoch histories, and the weights kept at snapshot epochs."""

    model: vae.VAE
    history: dict[str, list[float]]
    best_epoch: int
    snapshot_weights: dict[int, list[np.ndarray]]
    from_cache: bool
    #: Whether the validation loss stopped training before the epoch limit.
    stopped_before_limit: bool = False

    @property
    def epochs_trained(self) -> int:
        return len(self.history["training_loss"])

    def at_epoch(self, epoch: int) -> vae.VAE:
        """A copy of the model with the weights it had after ``epoch`` (a snapshot epoch)."""
        if epoch not in self.snapshot_weights:
            raise KeyError(f"no weights were kept after epoch {epoch}; kept: {sorted(self.snapshot_weights)}. "
                           "Add it to the configuration's snapshot_epochs.")
        model = _new_model(self.model.input_dim, self.model.get_config())
        model.set_weights(self.snapshot_weights[epoch])
        return model


def _new_model(input_dim: int, settings: dict) -> vae.VAE:
    model = vae.VAE(input_dim, settings["latent_dim"], tuple(settings["hidden"]), likelihood=settings["likelihood"],
                    kl_weight=settings["kl_weight"], seed=settings["seed"])
    model.build((None, input_dim))
    return model


# --------------------------------------------------------------------------- callbacks


class _SelectOnValidation(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss and restores them at the end;
    stops when it has not improved for ``patience`` epochs, once ``min_epochs`` are done; keeps
    the weights after each snapshot epoch; stops with an error when a loss is not finite."""

    def __init__(self, config: TrainingConfig):
        super().__init__()
        self.config = config
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None
        self.snapshots: dict[int, list[np.ndarray]] = {}
        self.diverged_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        logs = logs or {}
        loss, validation = float(logs.get("loss", math.nan)), float(logs.get("val_loss", math.nan))
        if not (math.isfinite(loss) and math.isfinite(validation)):
            self.diverged_at = epoch
            self.model.stop_training = True
            return
        if epoch in self.config.snapshot_epochs:
            self.snapshots[epoch] = self.model.get_weights()
        if validation < self.best_loss:
            self.best_loss, self.best_epoch, self.best_weights = validation, epoch, self.model.get_weights()
        if epoch >= self.config.min_epochs and epoch - self.best_epoch >= self.config.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class _Progress(keras.callbacks.Callback):
    """Tells ``report`` of each epoch's end, in words: the epoch, the limit, the best so far."""

    def __init__(self, selector: _SelectOnValidation, report):
        super().__init__()
        self.selector, self.report = selector, report

    def on_epoch_end(self, epoch, logs=None):
        best = self.selector
        self.report(f"epoch {epoch + 1} of at most {best.config.max_epochs}; best validation loss "
                    f"{best.best_loss:.2f} (epoch {best.best_epoch})")


def _file_reporter(path: str):
    """A report function that keeps the last line in the file ``path`` (read by ``train_many``)."""
    return lambda line: write_atomic(path, line)


class _TestLoss(keras.callbacks.Callback):
    """Measures the test set's negative ELBO after each epoch (it chooses nothing)."""

    def __init__(self, x_test, seed, store):
        super().__init__()
        self.x_test, self.seed, self.store = x_test, seed, store

    def on_epoch_end(self, epoch, logs=None):
        from .inference import negative_elbo

        self.store.append(negative_elbo(self.model, self.x_test, seed=self.seed)["negative_elbo"])


# --------------------------------------------------------------------------- training


def compile_for_training(model: vae.VAE, config: TrainingConfig, n_samples: int) -> vae.VAE:
    """Compile ``model`` with Adam so that one compiled call runs a whole epoch.

    The callbacks act at epoch ends only, so nothing is lost; XLA (TensorFlow, JAX) fuses the
    element-wise work of each step. Both change the speed, not the arithmetic. PyTorch runs one
    step per call (Keras allows no more there) and without XLA.
    """
    torch = keras.backend.backend() == "torch"
    steps = math.ceil(n_samples / config.batch_size)
    rate = (keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.max_epochs * steps)
            if config.schedule == "cosine" else config.learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(rate), steps_per_execution=1 if torch else steps,
                  jit_compile=not torch)
    return model


def quiet_pipeline_options():
    """``tf.data.Options`` for a pipeline that runs on one thread of its own, without autotuning
    (see ``fit_inputs``)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return options


def fit_inputs(x_train: np.ndarray, x_validation: np.ndarray, config: TrainingConfig) -> tuple[dict, dict]:
    """The arguments of ``fit`` that feed the data: ``(training, validation)``.

    On TensorFlow, ``tf.data`` pipelines (shuffled each epoch, seeded with ``config.seed``): they
    feed a step faster than Keras' own adapter of numpy arrays (``make bench-vae``). Elsewhere the
    arrays, shuffled by Keras.

    The pipelines run on one thread of their own, without tf.data's autotuning, whose threads take
    cores from the training step. The batches, and so the trained weights, are the same either way.
    """
    if keras.backend.backend() != "tensorflow":
        return ({"x": x_train, "batch_size": config.batch_size, "shuffle": True},
                {"validation_data": (x_validation, None), "validation_batch_size": config.batch_size})
    import tensorflow as tf

    options = quiet_pipeline_options()
    training = (tf.data.Dataset.from_tensor_slices(x_train)
                .shuffle(len(x_train), seed=config.seed, reshuffle_each_iteration=True)
                .batch(config.batch_size).prefetch(2).with_options(options))
    validation = tf.data.Dataset.from_tensor_slices(x_validation).batch(config.batch_size).cache().with_options(options)
    return {"x": training, "shuffle": False}, {"validation_data": validation}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute a model: numpy, Keras and its backend's packages."""
    backend = keras.backend.backend()
    packages = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax", "jaxlib"), "torch": ("torch",)}
    return {"numpy": np.__version__, "keras": keras.__version__, "backend": backend,
            **installed(packages.get(backend, ()))}


def describe(input_dim: int, config: TrainingConfig) -> str:
    """A short name of a model, such as ``784-256x256-2 gaussian kl=1.0 lr=0.001 batch=128 seed=0`` (with
    " cosine" after the learning rate when it follows that schedule)."""
    schedule = "" if config.schedule == "constant" else f" {config.schedule}"
    return (f"{input_dim}-{'x'.join(map(str, config.hidden))}-{config.latent_dim} {config.likelihood} "
            f"kl={config.kl_weight} lr={config.learning_rate}{schedule} batch={config.batch_size} seed={config.seed}")


def cache_key(config: TrainingConfig, *arrays: np.ndarray) -> str:
    """Changes with the model settings, the code that defines and trains the model, the library
    versions (Keras, its backend, numpy), and the data."""
    code = [Path(vae.__file__), Path(__file__)]
    return digest(config.model_settings(), *code, library_versions(), *arrays)


def _checked(x_train, x_validation, x_test, config: TrainingConfig) -> tuple:
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig, got {type(config).__name__}.")
    x_train = validate_data(x_train, name="x_train", dtype=np.float32, value_range=config.value_range)
    d = x_train.shape[1]
    x_validation = validate_data(x_validation, name="x_validation", min_samples=1, n_features=d, dtype=np.float32,
                                 value_range=config.value_range)
    if x_test is not None:  # a test set may leave the training range (it is scaled with the training scaler)
        x_test = validate_data(x_test, name="x_test", min_samples=1, n_features=d, dtype=np.float32,
                               value_range=(0.0, 1.0) if config.likelihood == "bernoulli" else None)
    return x_train, x_validation, x_test


def _key(config: TrainingConfig, x_train, x_validation, x_test) -> str:
    return cache_key(config, x_train, x_validation, *(() if x_test is None else (x_test,)))


def _from_cache(cache: FolderCache, x_train, x_validation, x_test, config: TrainingConfig) -> TrainedVAE | None:
    return cache.load(_key(config, x_train, x_validation, x_test),
                      lambda folder: _read(folder, x_train.shape[1], config))


def _covers(cached: TrainedVAE | None, config: TrainingConfig) -> bool:
    """Whether a cached model kept the weights of every snapshot epoch ``config`` asks for."""
    return cached is not None and set(config.snapshot_epochs) <= set(cached.snapshot_weights)


def train_vae(x_train, x_validation, config: TrainingConfig, *, x_test=None,
              cache_dir: str | os.PathLike | None = None, verbose: bool = True,
              progress_file: str | None = None) -> TrainedVAE:
    """Train (or load from ``cache_dir``) a VAE, choosing its epoch on ``x_validation``.

    ``x_test``, if given, is measured after each epoch (``history["test_loss"]``) and decides nothing.
    A cached model is reused when it kept the weights of every requested snapshot epoch; otherwise
    it is trained again (deterministically, to the same weights) keeping the union of both sets.
    ``verbose`` shows the epochs as they pass (one line, in place in a notebook); ``progress_file``
    receives that line instead (a worker's, for ``train_many``).
    """
    x_train, x_validation, x_test = _checked(x_train, x_validation, x_test, config)
    cache = FolderCache(cache_dir, "vae")
    cached = _from_cache(cache, x_train, x_validation, x_test, config)
    if _covers(cached, config):
        return cached
    if cached is not None:  # the same model, trained again to keep the weights of more epochs
        config = dataclasses.replace(config, snapshot_epochs=config.snapshot_epochs + tuple(cached.snapshot_weights))
    if progress_file is not None:
        report = _file_reporter(progress_file)
    elif verbose:
        board = Board(f"Training {describe(x_train.shape[1], config)}", ["model"], every=30.0)
        report = lambda line: (board.update("model", line), board.show())  # noqa: E731
    else:
        report = None
    trained = _train(x_train, x_validation, x_test, config, report)
    cache.store(_key(config, x_train, x_validation, x_test), lambda folder: _write(folder, trained))
    return trained


def train_many(x_train, x_validation, configs: Mapping[object, TrainingConfig], *, x_test=None,
               cache_dir: str | os.PathLike | None = None, verbose: bool = True) -> dict[object, TrainedVAE]:
    """``train_vae`` for each of ``configs`` on the same data: ``{name: trained}`` (see train_each)."""
    return train_each({name: (x_train, x_validation, config) for name, config in configs.items()}, x_test=x_test,
                      cache_dir=cache_dir, verbose=verbose)


def train_each(jobs: Mapping[object, tuple], *, x_test=None, cache_dir: str | os.PathLike | None = None,
               verbose: bool = True) -> dict[object, TrainedVAE]:
    """``train_vae`` for each ``name: (x_train, x_validation, config)`` of ``jobs``: ``{name: trained}``.

    The models that are not in the cache train at the same time, one per worker of
    ``helpers.core.executor`` (a local process pool, or a Dask cluster), the longest first; then they
    are loaded from the cache (the others were read already, to find which are missing). A model
    does not depend on where it was trained. Without a cache, or with one model to train, they
    train here, one after another. Each worker may use every core. While they train, one board
    says how far each is (``verbose``).
    """
    jobs = {name: _checked(x_train, x_validation, x_test, config) + (config,)
            for name, (x_train, x_validation, config) in jobs.items()}
    cache = FolderCache(cache_dir, "vae")
    loaded = {name: _from_cache(cache, *job) for name, job in jobs.items()}
    missing = {name: job for name, job in jobs.items() if not _covers(loaded[name], job[3])}
    if cache_dir is not None and len(missing) > 1:
        order = sorted(missing, key=lambda name: -missing[name][3].max_epochs * (sum(missing[name][3].hidden)
                                                                              + missing[name][3].latent_dim))
        Path(cache_dir).mkdir(parents=True, exist_ok=True)  # the progress files live beside the models
        with tempfile.TemporaryDirectory(prefix=".progress-", dir=cache_dir) as folder:
            files = {_label(name): str(Path(folder) / f"{index}.txt") for index, name in enumerate(order)}
            board = Board(f"Training {len(missing)} models side by side, the longest first (Stop ends them; each "
                          "finished model is cached, so a rerun loads it):", files, waiting="queued") \
                if verbose else None

            def last(label: str) -> str:
                return Path(files[label]).read_text() if Path(files[label]).is_file() else ""

            def watch():
                for label in files:
                    if not board.lines[label].startswith(("done", "failed")) and last(label):
                        board.update(label, last(label))
                board.show()

            def log(line: str):
                label = next(label for label in files if line.startswith(label + " "))
                board.update(label, line.removeprefix(label + " ") + (f" ({last(label)})" if last(label) else ""))

            # Every worker may use every core, so that the model left training alone at the end uses them all.
            work = {_label(name): (*missing[name][:3], dataclasses.asdict(missing[name][3]), cache_dir,
                                    files[_label(name)]) for name in order}
            try:
                outcomes = run_all(pool_job.train_into_cache, work, threads=cores(), watch=watch if board else None,
                                   log=log if board else None)
            except KeyboardInterrupt:
                if board:
                    for label in files:
                        if not board.lines[label].startswith(("done", "failed")):
                            board.update(label, "stopped" + (f" ({last(label)})" if last(label) else ""))
                    board.close()
                raise
            if board:
                board.close()
        failed = failures(outcomes)
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(missing)} trainings failed:\n"
                               + "\n".join(f"--- {failure.label}\n{failure.traceback}" for failure in failed))
    return {name: train_vae(x_train, x_validation, config, x_test=x_test, cache_dir=cache_dir, verbose=verbose)
            if name in missing else loaded[name] for name, (x_train, x_validation, x_test, config) in jobs.items()}


def _label(name) -> str:
    return " ".join(map(str, name)) if isinstance(name, tuple) else str(name)


def _train(x_train, x_validation, x_test, config: TrainingConfig, report) -> TrainedVAE:
    keras.utils.set_random_seed(config.seed)  # before the model exists: its initial weights are seeded
    model = vae.VAE(x_train.shape[1], config.latent_dim, config.hidden, likelihood=config.likelihood,
                    kl_weight=config.kl_weight, seed=config.seed)
    compile_for_training(model, config, len(x_train))
    selector = _SelectOnValidation(config)
    callbacks: list[keras.callbacks.Callback] = [selector]
    test_losses: list[float] = []
    if x_test is not None:
        callbacks.append(_TestLoss(x_test, config.seed, test_losses))
    if report is not None:
        callbacks.append(_Progress(selector, report))
    training, validation = fit_inputs(x_train, x_validation, config)
    started = time.perf_counter()
    fit = model.fit(**training, **validation, epochs=config.max_epochs, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - started
    if selector.diverged_at is not None:
        raise FloatingPointError(
            f"training diverged: the loss was not finite after epoch {selector.diverged_at} (learning rate "
            f"{config.learning_rate}); lower the learning rate or check the data's scale."
        )
    history = {HISTORY_NAMES.get(name, name): [float(v) for v in values] for name, values in fit.history.items()}
    timings.record("model", describe(x_train.shape[1], config), seconds, epochs=len(fit.history["loss"]),
                   backend=keras.backend.backend())
    if x_test is not None:
        history["test_loss"] = [float(v) for v in test_losses]
    epochs = len(history["training_loss"])
    return TrainedVAE(model, history, selector.best_epoch, selector.snapshots, from_cache=False,
                      stopped_before_limit=epochs < config.max_epochs)


def _write(folder: Path, trained: TrainedVAE) -> None:
    stages = {"best": trained.model.get_weights(), **{f"epoch_{e}": w for e, w in trained.snapshot_weights.items()}}
    np.savez(folder / "weights.npz", **{f"{stage}/{i:03d}": array for stage, weights in stages.items()
                                        for i, array in enumerate(weights)})
    (folder / "training.json").write_text(json.dumps({
        "settings": trained.model.get_config(), "history": trained.history, "best_epoch": trained.best_epoch,
        "stopped_before_limit": trained.stopped_before_limit}, indent=1, sort_keys=True))


def _read(folder: Path, input_dim: int, config: TrainingConfig) -> TrainedVAE:
    """The entry in ``folder``, refused (a ValueError, so a miss) where it contradicts ``config``."""
    meta = json.loads((folder / "training.json").read_text())
    settings, history = meta["settings"], meta["history"]
    mismatched = [name for name in ("latent_dim", "likelihood", "kl_weight", "seed")
                  if settings.get(name) != getattr(config, name)] + ([] if tuple(settings.get("hidden", ())) ==
                                                                      config.hidden else ["hidden"])
    if mismatched:
        raise ValueError(f"its model settings {', '.join(mismatched)} are not the configuration's")
    epochs = len(history["training_loss"])
    if not (1 <= epochs <= config.max_epochs and all(len(values) == epochs for values in history.values())):
        raise ValueError(f"its history holds {epochs} epochs (and curves of other lengths?), the configuration "
                         f"at most {config.max_epochs}")
    if not 1 <= int(meta["best_epoch"]) <= epochs or bool(meta["stopped_before_limit"]) != (epochs < config.max_epochs):
        raise ValueError(f"its best epoch {meta['best_epoch']} or its stop does not fit its {epochs} epochs")
    stages: dict[str, list[np.ndarray]] = {}
    with np.load(folder / "weights.npz") as archive:
        for name in sorted(archive.files):
            stage, _ = name.split("/")
            stages.setdefault(stage, []).append(archive[name])
    model = _new_model(input_dim, meta["settings"])
    model.set_weights(stages.pop("best"))
    snapshots = {int(stage.removeprefix("epoch_")): weights for stage, weights in stages.items()}
    return TrainedVAE(model, meta["history"], int(meta["best_epoch"]), snapshots, from_cache=True,
                      stopped_before_limit=bool(meta["stopped_before_limit"]))
