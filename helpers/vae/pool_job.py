"""A training as a job of the process pool (``training.train_each``), in a module that imports no
numerical library, so that a worker says it is starting before it imports Keras: a board that said
"queued" all through that import looked stuck."""

from __future__ import annotations

from helpers.core.files import write_atomic

#: What a worker's progress file says before the first epoch.
STARTING = "starting: importing Keras and building the model"


def train_into_cache(x_train, x_validation, x_test, settings: dict, cache_dir, progress_file: str) -> int:
    """``train_vae`` of ``TrainingConfig(**settings)`` in a worker: the model goes to the cache, only its
    number of epochs comes back; each epoch's line goes to ``progress_file``."""
    write_atomic(progress_file, STARTING)
    from .training import TrainingConfig, train_vae

    return train_vae(x_train, x_validation, TrainingConfig(**settings), x_test=x_test, cache_dir=cache_dir,
                     progress_file=progress_file).epochs_trained
