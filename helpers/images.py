"""Images as data matrices: resizing the raccoon, and measures of reconstruction quality."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity
from skimage.transform import resize as skimage_resize

from .pca import PCA

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
