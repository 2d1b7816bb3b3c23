"""The exercise-4 report's code, by job: ``core`` (data, validation, cache, files, runs), one package
per task's science (``pca``, ``dmaps``, ``vae``, ``mnist``, ``evacuation``), ``notebook`` (what the
notebooks' cells call: parameters, prose, tables, figures) and ``pipeline`` (runs, sweeps and the
report). Dependencies run one way; ``make test`` checks them (pyproject.toml, import-linter)."""
