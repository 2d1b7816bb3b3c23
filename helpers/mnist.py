"""MNIST for the VAE: flattened images in [0, 1], and a small classifier that measures how
recognisable generated digits are."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from . import data


def load_flat(n_train: int | None = None, n_test: int | None = None):
    """(x_train, y_train), (x_test, y_test): images as float32 rows in [0, 1] (not binarised)."""
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    for n, name, limit in ((n_train, "n_train", 60000), (n_test, "n_test", 10000)):
        if n is not None and not 1 <= n <= limit:
            raise ValueError(f"{name} must be between 1 and {limit}, got {n}.")
    x_train = (x_train[:n_train].reshape(-1, 784) / 255.0).astype(np.float32)
    x_test = (x_test[:n_test].reshape(-1, 784) / 255.0).astype(np.float32)
    return (x_train, y_train[:n_train]), (x_test, y_test[:n_test])


def train_classifier(x, y, *, epochs: int = 5, seed: int = 0, cache_dir: str | os.PathLike | None = None):
    """A dense 784-256-10 softmax classifier (about 97-98% test accuracy), cached by data and settings."""
    import keras

    key = hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()
                         + f"{epochs} {seed} {keras.__version__} {keras.backend.backend()}".encode()).hexdigest()[:20]
    path = Path(cache_dir) / f"classifier-{key}.keras" if cache_dir else None
    if path is not None and path.is_file():
        return keras.saving.load_model(path)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.partial.keras")
        model.save(tmp)
        os.replace(tmp, path)
    return model


def generation_quality(classifier, images: np.ndarray) -> dict[str, float]:
    """How recognisable and how varied generated digits are, judged by a classifier.

    mean_confidence: mean of the classifier's largest class probability.
    class_coverage: entropy of the predicted-class histogram over log(10): 1 when all ten
    digits are generated equally often, 0 when only one is.
    """
    probabilities = np.asarray(classifier.predict(np.clip(images, 0.0, 1.0), batch_size=2000, verbose=0))
    counts = np.bincount(probabilities.argmax(axis=1), minlength=10)
    shares = counts / counts.sum()
    entropy = -np.sum(shares[shares > 0] * np.log(shares[shares > 0]))
    return {"mean_confidence": float(probabilities.max(axis=1).mean()), "class_coverage": float(entropy / np.log(10)),
            "class_shares": shares.tolist()}
