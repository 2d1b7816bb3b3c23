"""Task 1: principal component analysis by SVD, and what it shows of an image and of trajectories."""

from .estimator import PCA

__all__ = ["PCA"]
