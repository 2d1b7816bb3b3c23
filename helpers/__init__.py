"""Helpers for the exercise-4 report: the algorithms (PCA, and per task the others), data
access, figures, notebook plumbing and the report build. Notebooks call these; no algorithm
lives in a notebook cell."""
