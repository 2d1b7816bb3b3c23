"""What a task notebook's cells call: parameter checks, numbers for prose, tables, the results file,
and figures (style, saving, plots)."""

from . import plots
from .figures import apply_style, publish
from .parameters import (
    ParameterError,
    all_of,
    at_least,
    between,
    check_parameters,
    check_ranges,
    each,
    increasing,
    layer_sizes,
    length,
    less_than,
    one_of,
    path,
    positive,
    random_seed,
    share,
    smallest,
    starts_with,
)
from .prose import across_seeds, fmt, percent, say
from .results import save_results
from .tables import show_table

__all__ = ["ParameterError", "across_seeds", "all_of", "apply_style", "at_least", "between", "check_parameters",
           "check_ranges", "each", "fmt", "increasing", "layer_sizes", "length", "less_than", "one_of", "path",
           "percent", "plots", "positive", "publish", "random_seed", "save_results", "say", "share", "show_table",
           "smallest", "starts_with"]
