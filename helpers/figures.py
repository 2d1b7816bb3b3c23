"""Figure style, sizes and saving: every figure is written as vector PDF (for LaTeX) and PNG
(for quick viewing), atomically and byte-reproducibly, and shown in the notebook with the
caption and PDF path that the report template needs."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from .atomic import atomic_path
from .paths import ROOT, figures_dir

#: Width of the report's text block (A4, 2.5 cm margins) in inches.
TEXT_WIDTH = 6.3
#: Figure widths for the report's single column.
WIDTHS = {"full": TEXT_WIDTH, "wide": 0.85 * TEXT_WIDTH, "half": 0.5 * TEXT_WIDTH}

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.3,
    "lines.markersize": 3,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # embed TrueType: text in the PDF stays text
    "svg.hashsalt": "mlcms-ex4",
    "axes.prop_cycle": matplotlib.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
    ),
}

#: Metadata that makes the saved files byte-identical across runs (no dates, no versions).
_PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
_PNG_METADATA = {"Software": None}


def apply_style() -> None:
    """Use the shared report style for all following figures."""
    plt.rcParams.update(STYLE)


def new_figure(nrows: int = 1, ncols: int = 1, *, width: str | float = "full",
               aspect: float = 0.62, **kwargs):
    """A figure sized for the report: ``width`` is a name from WIDTHS or inches, height = width * aspect."""
    apply_style()
    inches = WIDTHS[width] if isinstance(width, str) else float(width)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(inches, inches * aspect), **kwargs)


@dataclass(frozen=True)
class ReportFigure:
    """A saved figure; displayed in a notebook as its PNG, carrying what the report needs."""

    pdf: Path
    png: Path
    caption: str
    label: str

    def _repr_mimebundle_(self, include=None, exclude=None):
        pdf = self.pdf.relative_to(ROOT) if self.pdf.is_relative_to(ROOT) else self.pdf
        metadata = {"mlcms_figure": {"pdf": pdf.as_posix(), "caption": self.caption, "label": self.label}}
        return {"image/png": self.png.read_bytes(), "text/plain": f"Figure: {self.caption}"}, metadata


def save_figure(fig, task: str, name: str, caption: str, *, output_dir: str | os.PathLike = ".") -> ReportFigure:
    """Save ``fig`` as ``figures/<task>/<name>.pdf`` and ``.png`` and close it.

    Both files are written atomically: a failure leaves the previous files untouched.
    """
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"figure name {name!r} must use letters, digits, '_' and '-' only.")
    if not caption.strip():
        raise ValueError(f"figure {name!r} needs a caption for the report.")
    folder = figures_dir(task, output_dir)
    pdf, png = folder / f"{name}.pdf", folder / f"{name}.png"
    try:
        with atomic_path(pdf) as tmp:
            fig.savefig(tmp, format="pdf", metadata=_PDF_METADATA)
        with atomic_path(png) as tmp:
            fig.savefig(tmp, format="png", metadata=_PNG_METADATA)
    finally:
        plt.close(fig)
    return ReportFigure(pdf=pdf, png=png, caption=caption, label=f"fig:{task}:{name}")


def publish(fig, task: str, name: str, caption: str, *, output_dir: str | os.PathLike = ".") -> None:
    """Save a figure (see save_figure) and display it once in the running notebook, if any.

    Returns None so that a ``publish(...)`` at the end of a cell is not shown a second time.
    """
    figure = save_figure(fig, task, name, caption, output_dir=output_dir)
    with contextlib.suppress(ImportError):
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(figure)
