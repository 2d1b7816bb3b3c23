"""Numbers as the report's prose writes them."""

import pytest

from helpers.notebook.prose import fmt, percent


@pytest.mark.parametrize(("value", "text"), [(0.012345, "0.0123"), (123.456, "123"), (7, "7"),
                                             (1.5e-7, "$1.50 \\times 10^{-7}$"), (0.0, "0.0")])
def test_fmt_keeps_three_significant_digits(value, text):
    assert fmt(value) == text


def test_percent_writes_a_share_as_a_percentage():
    assert percent(0.984) == "98.4%" and percent(0.5, 0) == "50%"


def test_a_comparison_says_how_many_seeds_it_holds_for():
    from helpers.notebook import across_seeds

    assert across_seeds([True]) == across_seeds([False]) == ""  # the prose says once that it rests on one model
    assert across_seeds([True, True, True]) == " for each of the 3 seeds"
    assert across_seeds([True, False, True]) == " for 2 of the 3 seeds only"
    with pytest.raises(ValueError, match="at least one seed"):
        across_seeds([])
