"""Tables computed in a code cell: shown as markdown in the notebook; the report renders the same rows
as a booktabs table (report/templates/section), from the structure this output carries."""

from __future__ import annotations

from collections.abc import Sequence


class Table:
    """A small table: rows of cells (turned into text), column headings, a caption, a label and the
    columns' alignment ("l" or "r" each)."""

    def __init__(self, rows: Sequence[Sequence], columns: Sequence[str], caption: str,
                 label: str, align: str | None = None):
        widths = {len(row) for row in rows}
        if widths - {len(columns)}:
            raise ValueError(f"table {label!r}: every row needs {len(columns)} cells, got {sorted(widths)}.")
        self.rows = [[str(cell) for cell in row] for row in rows]
        self.columns = [str(c) for c in columns]
        self.caption, self.label = caption, label
        self.align = align or "l" + "r" * (len(columns) - 1)

    def markdown(self) -> str:
        lines = [f"**{self.caption}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join(":--" if a == "l" else "--:" for a in self.align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        table = {"rows": self.rows, "columns": self.columns, "caption": self.caption, "label": self.label,
                 "align": self.align}
        return {"text/markdown": self.markdown(), "text/plain": f"Table: {self.caption}"}, {"mlcms_table": table}


def show_table(*args, **kwargs) -> None:
    """Build a Table and display it once (returns None, so a final call is not shown twice)."""
    from IPython.display import display

    display(Table(*args, **kwargs))
