"""The decoder's 2-D latent manifold (Kingma and Welling's "learned MNIST manifold"): the decoded
images of an evenly spaced grid of the prior's quantiles, and what a classifier reads in it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from scipy import stats

from helpers.core.validation import check_int


def prior_quantile_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The latent codes of an n x n grid spaced by the standard normal prior's quantiles.

    Along each axis the values are the inverse normal CDF of the evenly spaced probabilities
    (i + 1/2) / n, so every grid line stands for the same prior mass. Returns the axis values
    (increasing) and the codes, shape (n, n, 2), laid out like an image: row 0 at the top holds
    the largest z_2, column 0 the smallest z_1.
    """
    n = check_int(n, "the grid's tiles per side", low=2)
    axis = stats.norm.ppf((np.arange(n) + 0.5) / n)
    z1, z2 = np.meshgrid(axis, axis[::-1])
    return axis, np.stack([z1, z2], axis=-1)


def decode_grid(decode: Callable[[np.ndarray], np.ndarray], n: int, *, side: int = 28) -> dict[str, np.ndarray]:
    """Decode the prior-quantile grid: ``decode`` maps codes (m, 2) to images (m, side * side).

    Returns the axis values, the codes (n, n, 2), the tiles (n, n, side, side) and the mosaic,
    one (n * side, n * side) image with the tiles in their grid places.
    """
    axis, codes = prior_quantile_grid(n)
    images = np.asarray(decode(codes.reshape(-1, 2).astype(np.float32)))
    if images.shape != (n * n, side * side):
        raise ValueError(f"decode must return shape ({n * n}, {side * side}), returned {images.shape}.")
    tiles = images.reshape(n, n, side, side)
    mosaic = tiles.transpose(0, 2, 1, 3).reshape(n * side, n * side)
    return {"axis": axis, "codes": codes, "tiles": tiles, "mosaic": mosaic}


def read_tiles(probabilities: np.ndarray, *, unsure_below: float = 0.5) -> dict:
    """What a classifier sees in the grid, from its class probabilities per tile (n, n, 10).

    digits: the digits that label at least one tile; unsure_share: the share of tiles whose
    largest probability is below ``unsure_below``; meeting_pairs: for each unordered pair of
    different labels, how often they are horizontal or vertical neighbours in the grid, most
    frequent first (ties by digit).
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 3 or probabilities.shape[0] != probabilities.shape[1]:
        raise ValueError(f"expected class probabilities of shape (n, n, classes), got {probabilities.shape}.")
    if not 0.0 < unsure_below <= 1.0:
        raise ValueError(f"unsure_below must be in (0, 1], got {unsure_below}.")
    labels = probabilities.argmax(axis=-1)
    confidence = probabilities.max(axis=-1)
    meetings: Counter = Counter()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        differ = a != b
        meetings.update(zip(np.minimum(a, b)[differ].tolist(), np.maximum(a, b)[differ].tolist(), strict=True))
    pairs = sorted(meetings.items(), key=lambda item: (-item[1], item[0]))
    digits = sorted(set(labels.ravel().tolist()))
    return {"labels": labels, "confidence": confidence, "digits": digits, "n_digits": len(digits),
            "missing_digits": sorted(set(range(probabilities.shape[-1])) - set(digits)),
            "unsure_share": float(np.mean(confidence < unsure_below)), "unsure_below": unsure_below,
            "meeting_pairs": [{"pair": list(pair), "count": count} for pair, count in pairs]}


def manifold(model, classifier, n: int, *, unsure_below: float = 0.5) -> dict:
    """The decoded grid of a 2-D VAE and what ``classifier`` reads in it (read_tiles)."""
    from helpers.vae import inference as vae_inference

    if model.latent_dim != 2:
        raise ValueError(f"the latent manifold is drawn for a 2-D latent space, this model has {model.latent_dim}.")
    grid = decode_grid(lambda z: vae_inference.decode(model, z), n, side=int(round(np.sqrt(model.input_dim))))
    flat = np.clip(grid["tiles"].reshape(n * n, -1), 0.0, 1.0)
    probabilities = np.asarray(classifier.predict(flat, batch_size=2000, verbose=0)).reshape(n, n, -1)
    return {**grid, **read_tiles(probabilities, unsure_below=unsure_below)}
