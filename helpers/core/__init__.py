"""Foundations every other package uses: the data contract, input checks, seeded splits, the model
cache, atomic files, the executor for independent runs, and build timings."""
