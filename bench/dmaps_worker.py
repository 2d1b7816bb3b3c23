"""One diffusion-map fit, run in its own process so that its peak memory can be measured.

    python bench/dmaps_worker.py {ours,datafold} DATA.npy EPSILON TOL N_EIGENPAIRS

Prints one JSON line: fit seconds and the Markov eigenvalues. The datafold mode imports only
datafold, through helpers/dmaps/datafold_worker.py (it runs in datafold's own virtual environment).
"""

import json
import sys
import time

import numpy as np


def fit_ours(X, epsilon, tol, k):
    from helpers.dmaps import DiffusionMap

    start = time.perf_counter()
    dm = DiffusionMap(k - 1, epsilon=epsilon, storage="sparse", tol=tol).fit(X)
    return time.perf_counter() - start, dm.markov_eigenvalues_, dm.mean_neighbours_


def fit_datafold(X, epsilon, tol, k):
    from helpers.dmaps.datafold_worker import fit_datafold as fit
    from helpers.dmaps.kernels import cut_off_radius

    radius = cut_off_radius(epsilon, tol)
    start = time.perf_counter()
    dm = fit(X, epsilon, radius, k)
    return time.perf_counter() - start, np.sort(np.real(dm.eigenvalues_))[::-1], float("nan")


def main():
    mode, path, epsilon, tol, k = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    X = np.load(path)
    seconds, eigenvalues, neighbours = (fit_ours if mode == "ours" else fit_datafold)(X, epsilon, tol, k)
    print(json.dumps({"seconds": seconds, "eigenvalues": [float(v) for v in eigenvalues],
                      "mean_neighbours": neighbours}))


if __name__ == "__main__":
    main()
