"""Numbers and facts as words, for the sentences a code cell computes (they become report prose)."""

from __future__ import annotations

import math


def fmt(value: float, digits: int = 3) -> str:
    """A number for prose: ``digits`` significant digits, no exponent for everyday magnitudes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 6:
        decimals = max(digits - 1 - magnitude, 0)
        return f"{value:.{decimals}f}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def percent(share: float, decimals: int = 1) -> str:
    """A share in [0, 1] as a percentage for prose, e.g. 0.984 -> '98.4%'."""
    return f"{100.0 * float(share):.{decimals}f}%"


def across_seeds(holds) -> str:
    """Which trained models a comparison rests on, as a phrase to append to it: ``holds`` says, per
    seed, whether it holds for that seed's models (" for each of the 3 seeds", " for 2 of the 3 seeds
    only"; nothing for one seed, where the prose says once that each number rests on one model)."""
    holds = [bool(flag) for flag in holds]
    if not holds:
        raise ValueError("a comparison rests on at least one seed's models.")
    if len(holds) == 1:
        return ""
    if all(holds):
        return f" for each of the {len(holds)} seeds"
    return f" for {sum(holds)} of the {len(holds)} seeds only"


def say(text: str) -> None:
    """Display markdown computed in a code cell (it becomes report prose)."""
    from IPython.display import Markdown, display

    display(Markdown(text))
