"""Benchmark: our PCA against scikit-learn's on the same data, in one run.

Prints fit time (median of repeats) for each, and their ratio; speed is never asserted in tests.
    python bench/bench_pca.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.decomposition import PCA as SklearnPCA

from helpers.core import data
from helpers.pca import PCA, images


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = {
        "raccoon 249x185 (columns)": images.resize_gray(data.load_face(), 249, 185).T,
        "pedestrians 1000x30": data.load_vadere(),
        "random 5000x300": rng.normal(size=(5000, 300)),
        "random 2000x1000": rng.normal(size=(2000, 1000)),
    }
    print(f"{'data':28s} {'ours (ms)':>10s} {'sklearn full (ms)':>18s} {'ratio':>7s}  max |energy diff|")
    for name, X in cases.items():
        ours = median_seconds(lambda X=X: PCA().fit(X), args.repeats)
        ref = median_seconds(lambda X=X: SklearnPCA(svd_solver="full").fit(X), args.repeats)
        diff = np.max(np.abs(PCA().fit(X).energy_ - SklearnPCA(svd_solver="full").fit(X).explained_variance_ratio_))
        print(f"{name:28s} {1e3 * ours:10.2f} {1e3 * ref:18.2f} {ref / ours:6.2f}x  {diff:.1e}")
    print("ratio > 1: ours is faster than scikit-learn's full-SVD PCA on the same data")


if __name__ == "__main__":
    main()
