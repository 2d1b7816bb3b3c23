"""datafold's diffusion map and its eigenvector selection, run in datafold's own virtual environment
(datafold pins older numpy and scikit-learn than the report's). It imports numpy and datafold only,
never the rest of helpers; datafold_reference.py calls it with arrays in and arrays out:

    python -I helpers/dmaps/datafold_worker.py IN.npz OUT.npz

IN holds ``points`` (n, d), ``epsilon`` (for the kernel exp(-D^2 / epsilon), our convention),
``cut_off`` (distances beyond it are dropped; inf keeps all), ``n_eigenpairs``, ``n_subsample`` and ``seed``.
OUT holds ``eigenvalues`` (of the Markov matrix, descending), ``eigenvectors`` (n, n_eigenpairs),
``residuals`` (local regression on all earlier eigenvectors; nan for the constant one),
``selected`` (the eigenvectors datafold selects for a 2-D embedding) and ``version``.
Neither file holds Python objects: both are read with allow_pickle=False.
"""

from __future__ import annotations

import sys

import numpy as np


def fit_datafold(points: np.ndarray, epsilon: float, cut_off: float, n_eigenpairs: int):
    """datafold's DiffusionMaps with our kernel: its Gaussian is exp(-D^2 / (2 eps)), so eps = epsilon / 2.
    An infinite ``cut_off`` keeps every pair (a dense kernel)."""
    import datafold.dynfold as dfold
    import datafold.pcfold as pfold

    distance = dict(cut_off=cut_off, backend="scipy.kdtree") if np.isfinite(cut_off) else dict(backend="brute")
    kernel = pfold.GaussianKernel(epsilon=epsilon / 2.0, distance=distance)
    dmap = dfold.DiffusionMaps(kernel=kernel, n_eigenpairs=n_eigenpairs, alpha=1.0, symmetrize_kernel=True)
    return dmap.fit(pfold.PCManifold(points))


def main(source: str, target: str) -> None:
    import datafold
    import datafold.dynfold as dfold

    with np.load(source, allow_pickle=False) as given:
        points = given["points"]
        epsilon, cut_off = float(given["epsilon"]), float(given["cut_off"])
        n_eigenpairs, n_subsample, seed = int(given["n_eigenpairs"]), int(given["n_subsample"]), int(given["seed"])
    dmap = fit_datafold(points, epsilon, cut_off, n_eigenpairs)
    values = np.real(np.asarray(dmap.eigenvalues_))
    order = np.argsort(-values)
    vectors = np.real(np.asarray(dmap.eigenvectors_))[:, order]
    selection = dfold.LocalRegressionSelection(intrinsic_dim=2, strategy="dim",
                                               n_subsample=min(n_subsample, len(points)), random_state=seed)
    selection.fit(vectors)
    np.savez(target, eigenvalues=values[order], eigenvectors=vectors, residuals=np.asarray(selection.residuals_),
             selected=np.asarray(selection.evec_indices_), version=np.array(datafold.__version__))


if __name__ == "__main__":
    main(*sys.argv[1:3])
