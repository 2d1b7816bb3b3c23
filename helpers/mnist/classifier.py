"""A small digit classifier that judges generated MNIST digits: how recognisable, how varied."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from helpers.core.cache import FolderCache, digest
from helpers.core.validation import check_int


def classifier_key(x, y, epochs: int, seed: int) -> str:
    """The cache key of a trained classifier: the data, the settings, this module's code (which
    defines the model), and the versions of numpy, Keras and the Keras backend in use."""
    from helpers.vae.training import library_versions

    return digest(np.asarray(x), np.asarray(y), epochs, seed, Path(__file__), library_versions())


def train_classifier(x, y, *, epochs: int = 5, seed: int = 0, cache_dir: str | os.PathLike | None = None):
    """A dense 784-256-10 softmax classifier (about 97-98% test accuracy).

    Cached by the data, the settings, this module's code, Keras and its backend.
    """
    import keras

    check_int(epochs, "epochs")
    cache = FolderCache(cache_dir, "classifier")
    key = classifier_key(x, y, epochs, seed)
    cached = cache.load(key, lambda folder: keras.saving.load_model(folder / "classifier.keras"))
    if cached is not None:
        return cached
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    cache.store(key, lambda folder: model.save(folder / "classifier.keras"))
    return model


def accuracy(classifier, x, y) -> float:
    """The share of images ``x`` whose predicted class is their label ``y``."""
    predicted = np.argmax(classifier.predict(x, batch_size=2000, verbose=0), axis=1)
    return float(np.mean(predicted == np.asarray(y)))


def generation_quality(classifier, images: np.ndarray) -> dict:
    """How recognisable and how varied generated digits are, judged by a classifier.

    mean_confidence: mean of the classifier's largest class probability.
    class_coverage: entropy of the predicted-class histogram over log(10): 1 when all ten
    digits are generated equally often, 0 when only one is.
    class_shares: the share of each predicted digit; rarest_share and commonest_share their extremes.
    """
    probabilities = np.asarray(classifier.predict(np.clip(images, 0.0, 1.0), batch_size=2000, verbose=0))
    counts = np.bincount(probabilities.argmax(axis=1), minlength=10)
    shares = counts / counts.sum()
    present = shares[shares > 0]
    entropy = -np.sum(present * np.log(present))
    return {"mean_confidence": float(probabilities.max(axis=1).mean()), "class_coverage": float(entropy / np.log(10)),
            "class_shares": shares.tolist(), "rarest_share": float(shares.min()),
            "commonest_share": float(shares.max())}
