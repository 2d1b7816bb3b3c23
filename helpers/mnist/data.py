"""MNIST for the VAE: flattened images in [0, 1], with a seeded validation split of the
training images (it chooses the model) and the test images (they only report)."""

from __future__ import annotations

import dataclasses

import numpy as np

from helpers.core import data
from helpers.core.splits import holdout
from helpers.core.validation import check_int

#: Images in MNIST's training and test sets.
N_TRAIN_IMAGES, N_TEST_IMAGES = 60_000, 10_000


@dataclasses.dataclass(frozen=True)
class Split:
    """Flattened images (n, 784) in [0, 1] as float32 with their labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def load_splits(n_train: int = N_TRAIN_IMAGES, n_validation: int = 10_000, n_test: int = N_TEST_IMAGES,
                *, seed: int = 0) -> dict[str, Split]:
    """``{"train", "validation", "test"}``: the first ``n_train`` training images, of which a
    seeded ``n_validation`` are held out for validation, and the first ``n_test`` test images."""
    check_int(n_train, "n_train", high=N_TRAIN_IMAGES)
    check_int(n_test, "n_test", high=N_TEST_IMAGES)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    fit, validation = holdout(n_train, n_validation, seed=seed)

    def flat(images, labels, index=slice(None)):
        return Split((images[index].reshape(-1, 784) / 255.0).astype(np.float32), labels[index].copy())

    return {"train": flat(x_train[:n_train], y_train[:n_train], fit),
            "validation": flat(x_train[:n_train], y_train[:n_train], validation),
            "test": flat(x_test[:n_test], y_test[:n_test])}
