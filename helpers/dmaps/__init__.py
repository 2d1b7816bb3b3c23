"""Task 2: diffusion maps as taught (dense or sparse kernel), the checks that read their
eigenfunctions, and datafold's diffusion map beside ours."""

from .estimator import STORAGES, DiffusionMap, with_eigenfunctions

__all__ = ["STORAGES", "DiffusionMap", "with_eigenfunctions"]
