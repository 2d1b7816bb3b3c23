"""One diffusion-map fit, run in its own process so that its peak memory can be measured.

    python bench/dmaps_worker.py {ours,datafold} DATA.npy EPSILON TOL N_EIGENPAIRS

Prints one JSON line: fit seconds and the Markov eigenvalues. The datafold mode imports only
datafold (it runs in datafold's own virtual environment, see bench/bench_dmaps.py).
"""

import json
import sys
import time

import numpy as np


def fit_ours(X, epsilon, tol, k):
    from helpers.diffusion_maps import DiffusionMap

    start = time.perf_counter()
    dm = DiffusionMap(k - 1, epsilon=epsilon, kernel="sparse", tol=tol).fit(X)
    return time.perf_counter() - start, dm.markov_eigenvalues_, dm.mean_neighbours_


def fit_datafold(X, epsilon, tol, k):
    import datafold.dynfold as dfold
    import datafold.pcfold as pfold

    radius = np.sqrt(epsilon * np.log(1.0 / tol))
    start = time.perf_counter()
    # datafold's Gaussian kernel is exp(-D^2 / (2 eps)): eps_datafold = eps / 2 gives our exp(-D^2 / eps).
    kernel = pfold.GaussianKernel(epsilon=epsilon / 2.0, distance=dict(cut_off=radius, backend="scipy.kdtree"))
    dm = dfold.DiffusionMaps(kernel=kernel, n_eigenpairs=k, alpha=1.0, symmetrize_kernel=True)
    dm.fit(pfold.PCManifold(X))
    return time.perf_counter() - start, np.sort(np.real(dm.eigenvalues_))[::-1], float("nan")


def main():
    mode, path, epsilon, tol, k = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    X = np.load(path)
    seconds, eigenvalues, neighbours = (fit_ours if mode == "ours" else fit_datafold)(X, epsilon, tol, k)
    print(json.dumps({"seconds": seconds, "eigenvalues": [float(v) for v in eigenvalues],
                      "mean_neighbours": neighbours}))


if __name__ == "__main__":
    main()
