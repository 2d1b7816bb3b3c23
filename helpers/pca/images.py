"""Images as data matrices: resizing the raccoon, and measures of reconstruction quality."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity
from skimage.transform import resize as skimage_resize

from .estimator import PCA

#: Resizing methods compared in the report; the first is our convention.
RESIZE_METHODS = {
    "pillow-bicubic": Image.Resampling.BICUBIC,
    "pillow-lanczos": Image.Resampling.LANCZOS,
    "pillow-bilinear": Image.Resampling.BILINEAR,
    "pillow-nearest": Image.Resampling.NEAREST,
    "skimage-antialiased": None,
}


def resize_gray(image: np.ndarray, width: int, height: int, method: str = "pillow-bicubic") -> np.ndarray:
    """Resize a grey uint8 image to ``height`` rows x ``width`` columns, as float64 in [0, 255]."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a grey image (2-D array), got shape {image.shape}.")
    if method not in RESIZE_METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose one of {', '.join(RESIZE_METHODS)}.")
    if method == "skimage-antialiased":
        resized = skimage_resize(image.astype(np.float64), (height, width), order=1,
                                 anti_aliasing=True, preserve_range=True)
        return np.clip(resized, 0.0, 255.0)
    pil = Image.fromarray(image.astype(np.uint8)).resize((width, height), RESIZE_METHODS[method])
    return np.asarray(pil, dtype=np.float64)


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB (infinite for identical images)."""
    mse = float(np.mean((np.asarray(reference, float) - np.asarray(image, float)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(data_range**2 / mse)


def ssim(reference: np.ndarray, image: np.ndarray, data_range: float = 255.0) -> float:
    """Structural similarity (Wang et al. 2004), 1 for identical images."""
    return float(structural_similarity(np.asarray(reference, float), np.asarray(image, float),
                                       data_range=data_range))


def quality_curve(image: np.ndarray, pca: PCA, components: np.ndarray) -> dict[str, np.ndarray]:
    """SSIM and PSNR of the rank-L reconstructions of ``image`` (columns are the data points)."""
    samples = image.T
    ssims, psnrs = [], []
    for n in components:
        reconstructed = np.clip(pca.reconstruct(samples, int(n)).T, 0.0, 255.0)
        ssims.append(ssim(image, reconstructed))
        psnrs.append(psnr(image, reconstructed))
    return {"components": np.asarray(components), "ssim": np.asarray(ssims), "psnr": np.asarray(psnrs)}


#: The orientations compared: (image width, image height, data points) for a target w x h.
def orientations(width: int, height: int) -> dict[str, tuple[int, int, str]]:
    """Our convention first: ``width`` x ``height`` with columns as points; then the variants."""
    return {
        f"{width}x{height}, columns": (width, height, "columns"),
        f"{width}x{height}, rows": (width, height, "rows"),
        f"{height}x{width}, columns": (height, width, "columns"),
        f"{height}x{width}, rows": (height, width, "rows"),
    }


def components_for_loss_table(gray: np.ndarray, width: int, height: int, max_loss: float) -> dict[str, dict[str, int]]:
    """The smallest L with energy loss < ``max_loss``, by resize method and orientation.

    Returns ``{method: {orientation: L}}``; an orientation reads "W x H, points": the image
    resized to W pixels wide and H high, with its columns or rows as the data points.
    """
    table = {}
    for method in RESIZE_METHODS:
        table[method] = {}
        for label, (w, h, points) in orientations(width, height).items():
            image = resize_gray(gray, w, h, method)
            samples = image.T if points == "columns" else image
            table[method][label] = PCA().fit(samples).n_components_for_loss(max_loss)
    return table


def reconstructions(image: np.ndarray, pca: PCA, counts, *, min_ssim: float = 0.95) -> dict[int, dict]:
    """For each number of components L in ``counts``: the reconstructed image (clipped to [0, 255]),
    the energy loss, SSIM and PSNR against ``image``, whether L is all components, and whether
    the reconstruction is indistinguishable by SSIM (at least ``min_ssim``)."""
    samples = image.T
    result = {}
    for n in counts:
        reconstructed = np.clip(pca.reconstruct(samples, int(n)).T, 0.0, 255.0)
        result[int(n)] = {"image": reconstructed, "loss": pca.energy_loss(int(n)), "ssim": ssim(image, reconstructed),
                          "psnr": psnr(image, reconstructed), "all": int(n) == pca.energy_.size}
        result[int(n)]["indistinguishable"] = result[int(n)]["ssim"] >= min_ssim
    return result


def loss_answer(pca: PCA, max_loss: float) -> dict:
    """The smallest L whose energy loss is below ``max_loss``, its loss, and the loss with L - 1."""
    n = pca.n_components_for_loss(max_loss)
    return {"n_components": n, "loss": pca.energy_loss(n), "loss_one_fewer": pca.energy_loss(n - 1) if n > 1 else 1.0,
            "max_loss": max_loss}


def full_quality_curve(image: np.ndarray, pca: PCA) -> dict[str, np.ndarray]:
    """quality_curve for every L from 1 to all components, with the energy loss of each."""
    counts = np.arange(1, pca.energy_.size + 1)
    curve = quality_curve(image, pca, counts)
    curve["loss"] = np.array([pca.energy_loss(int(n)) for n in counts])
    return curve


def visible_threshold(curve: dict[str, np.ndarray], min_ssim: float) -> dict:
    """The smallest L from which SSIM stays at or above ``min_ssim`` (below it the loss is visible),
    with SSIM and PSNR there; "n_components" is None when no L reaches ``min_ssim``."""
    reached = curve["ssim"] >= min_ssim
    if not reached.any():
        return {"n_components": None, "ssim": None, "psnr": None, "min_ssim": min_ssim}
    stays = np.flatnonzero(~reached)
    index = int(stays[-1]) + 1 if stays.size else 0  # the first L after the last one below the threshold
    return {"n_components": int(curve["components"][index]), "ssim": float(curve["ssim"][index]),
            "psnr": float(curve["psnr"][index]), "min_ssim": min_ssim}
