"""Tables: the rows a cell computed, as the notebook shows them and as the report reads them."""

import pytest

from helpers.notebook.tables import Table


def test_a_table_shows_its_rows_as_markdown():
    table = Table([["a_b", 1], ["c", 2]], ["name", "$L$"], caption="A 5% table", label="tab:t")
    assert table.markdown().splitlines() == ["**A 5% table**", "", "| name | $L$ |", "|:--|--:|", "| a_b | 1 |",
                                             "| c | 2 |"]


def test_every_row_needs_a_cell_per_column():
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        Table([["a"]], ["x", "y"], caption="c", label="l")
