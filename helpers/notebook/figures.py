"""Figure style, sizes and saving: every figure is written as vector PDF (for LaTeX) and PNG
(for quick viewing), atomically and byte-reproducibly, and shown in the notebook with what the
report needs: the caption, the files' paths and SHA-256s, and the helper that drew it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import Collection
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation

from helpers.core.files import ROOT, atomic_path, figures_dir, output_root

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

# fontTools, which subsets the fonts embedded in the PDFs, says each step at INFO level; a library that
# sets the root logger to INFO (PedPy does) would print them all.
logging.getLogger("fontTools").setLevel(logging.WARNING)

#: Metadata that makes the saved files byte-identical across runs (no dates, no versions).
_PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
_PNG_METADATA = {"Software": None}


def apply_style() -> None:
    """Use the shared report style for all following figures."""
    plt.rcParams.update(STYLE)


class FigureError(ValueError):
    """A figure cannot be saved as it is (a missing glyph, something it promises but does not draw,
    a bad name or caption)."""


def new_figure(nrows: int = 1, ncols: int = 1, *, width: str | float = "full",
               aspect: float = 0.62, **kwargs):
    """A figure sized for the report: ``width`` is a name from WIDTHS or inches, height = width * aspect.

    The figure remembers the function that called this one (the plotting helper), for the
    report's note under each figure of what made it.
    """
    apply_style()
    inches = WIDTHS[width] if isinstance(width, str) else float(width)
    kwargs.setdefault("layout", "constrained")
    fig, axes = plt.subplots(nrows, ncols, figsize=(inches, inches * aspect), **kwargs)
    fig.mlcms_made_by = _caller(sys._getframe(1))
    return fig, axes


def _caller(frame) -> dict:
    """The module, function and first line of the function running in ``frame``."""
    module = frame.f_globals.get("__name__", "")
    file = Path(frame.f_code.co_filename)
    relative = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else file.name
    return {"function": f"{module}.{frame.f_code.co_qualname}", "file": relative, "line": frame.f_code.co_firstlineno}


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class ReportFigure:
    """A saved figure; displayed in a notebook as its PNG, carrying what the report needs.

    ``pdf`` and ``png`` are paths relative to the run's output root; ``sha256`` holds both
    files' checksums, so that the report can refuse a file that another run rewrote.
    """

    root: Path
    pdf: str
    png: str
    caption: str
    label: str
    sha256: dict[str, str] = field(default_factory=dict)
    made_by: dict | None = None

    def file(self, kind: str = "pdf") -> Path:
        """The saved file of ``kind`` ("pdf" or "png")."""
        return self.root / {"pdf": self.pdf, "png": self.png}[kind]

    def _repr_mimebundle_(self, include=None, exclude=None):
        metadata = {"mlcms_figure": {"pdf": self.pdf, "png": self.png, "sha256": self.sha256,
                                     "caption": self.caption, "label": self.label, "made_by": self.made_by}}
        png = self.file("png").read_bytes()
        width = int.from_bytes(png[16:20], "big")  # the PNG header's width, at savefig.dpi per inch
        shown = {"width": round(width * 100 / STYLE["savefig.dpi"])}  # as wide as on the page, at 100 px per inch
        return {"image/png": png, "text/plain": f"Figure: {self.caption}"}, {**metadata, "image/png": shown}


def _rendered(fig, fmt: str, metadata: dict) -> bytes:
    """The figure's file in ``fmt``; a glyph missing from the fonts is an error, as it is in LaTeX."""
    import io

    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format=fmt, metadata=metadata)
    missing = sorted({str(w.message) for w in caught if "missing from" in str(w.message)})
    if missing:
        raise FigureError(f"the figure's fonts lack characters ({'; '.join(missing)}); the figure would show "
                          "empty boxes. Use characters of DejaVu Sans or write them as $math$.")
    for warning in caught:  # anything else is shown as usual
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return buffer.getvalue()


def undrawn(fig, *, drawn: bool = False) -> list[str]:
    """What a figure asked for but will not show: a legend entry whose artist has nothing inside its
    axes (a proxy with no data, or data outside the limits), and an annotation that matplotlib drops
    because the point it marks lies outside its axes. ``drawn``: the figure was just saved, so its
    limits and layout are those of the files (another draw could move a constrained layout)."""
    if not drawn:
        fig.draw_without_rendering()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    listed = {text.get_text() for legend in legends if legend is not None for text in legend.get_texts()}
    problems = []
    for ax in fig.axes:
        inside = ax.bbox.frozen()
        for artist, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label in listed and not _shows_something(artist, inside):
                problems.append(f"the legend entry {label!r} has nothing drawn inside its axes")
        for text in ax.texts:
            if isinstance(text, Annotation) and text.get_annotation_clip() is not False \
                    and text.xycoords == "data" and not inside.contains(*ax.transData.transform(text.xy)):
                problems.append(f"the annotation {text.get_text()!r} at {tuple(round(float(v), 3) for v in text.xy)} "
                                "lies outside its axes, so it is not drawn")
    return problems


def covered(fig, *, drawn: bool = False) -> list[str]:
    """Legends that hide data: a legend whose box lies over its axes (or a figure legend over any axes)
    and covers a point or a stretch of a line, a scatter point, a bar or a text of them. Shaded areas
    and images may lie under a legend. ``drawn`` as for ``undrawn``."""
    if not drawn:
        fig.draw_without_rendering()
    pairs = [(ax.get_legend(), [ax]) for ax in fig.axes] + [(legend, fig.axes) for legend in fig.legends]
    problems = []
    for legend, axes in pairs:
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent()
        for ax in axes:
            if not box.overlaps(ax.bbox):
                continue
            hidden = [what for what, artist in _data_artists(ax) if _under(artist, box)]
            if hidden:
                name = ax.get_title() or f"axes {fig.axes.index(ax) + 1}"
                problems.append(f"the legend covers data of {name!r}: {', '.join(sorted(set(hidden)))}; move it "
                                "outside the axes or to an empty corner")
    return problems


def _data_artists(ax):
    """``(kind, artist)`` of what ``ax`` shows as data: lines, collections of points or segments, bars, texts."""
    bars = [patch for container in ax.containers for patch in getattr(container, "patches", [])]
    lines = [("a line", line) for line in ax.get_lines() if line.get_visible() and len(line.get_xydata())]
    collections = [("points or segments", c) for c in ax.collections
                   if c.get_visible() and (len(c.get_offsets()) or type(c).__name__ == "LineCollection")]
    return [*lines, *collections, *(("a bar", bar) for bar in bars if bar.get_visible()),
            *(("a text", text) for text in ax.texts if text.get_visible() and text.get_text().strip())]


def _under(artist, box) -> bool:
    """Whether some drawn part of ``artist`` lies inside the display box ``box``."""
    if isinstance(artist, Line2D):
        points = artist.get_transform().transform(artist.get_xydata())
        points = points[np.isfinite(points).all(axis=1)]
        if artist.get_linestyle() in ("None", "none", "", " ") or len(points) < 2:
            return any(box.contains(x, y) for x, y in points)
        return MplPath(points).intersects_bbox(box, filled=False)
    if isinstance(artist, Collection) and len(artist.get_offsets()):
        points = artist.get_offset_transform().transform(artist.get_offsets())
        return any(box.contains(x, y) for x, y in points if np.isfinite(x) and np.isfinite(y))
    if isinstance(artist, Collection):  # segments (vlines, error bars)
        transform = artist.get_transform()
        return any(MplPath(transform.transform(path.vertices)).intersects_bbox(box, filled=False)
                   for path in artist.get_paths() if len(path.vertices))
    return artist.get_window_extent().overlaps(box)


def _shows_something(artist, inside) -> bool:
    """Whether some point or part of ``artist`` lies in the display box ``inside``."""
    if isinstance(artist, Line2D):
        points = artist.get_transform().transform(artist.get_xydata()) if len(artist.get_xydata()) else []
    elif isinstance(artist, Collection):
        offsets = artist.get_offsets()
        points = artist.get_offset_transform().transform(offsets) if len(offsets) else []
    else:  # patches, images, containers: their extent
        extent = artist.get_window_extent() if hasattr(artist, "get_window_extent") else None
        return extent is None or extent.overlaps(inside)
    return any(inside.contains(x, y) for x, y in points if np.isfinite(x) and np.isfinite(y))


def save_figure(fig, task: str, name: str, caption: str, *, output_dir: str | os.PathLike = ".") -> ReportFigure:
    """Save ``fig`` as ``figures/<task>/<name>.pdf`` and ``.png`` under ``output_dir`` and close it.

    Both files are drawn in memory first and then written atomically, so a failure (or an
    interrupt while drawing) leaves the previous pair untouched.
    """
    if not name.replace("_", "").replace("-", "").isalnum():
        raise FigureError(f"figure name {name!r} must use letters, digits, '_' and '-' only.")
    if not caption.strip():
        raise FigureError(f"figure {name!r} needs a caption for the report.")
    root = output_root(output_dir)
    folder = figures_dir(task, output_dir)
    try:
        contents = {"pdf": _rendered(fig, "pdf", _PDF_METADATA), "png": _rendered(fig, "png", _PNG_METADATA)}
        missing, hidden = undrawn(fig, drawn=True), covered(fig, drawn=True)
    finally:
        plt.close(fig)
    if missing:
        raise FigureError(f"figure {name!r} promises what it does not draw: {'; '.join(missing)}.")
    if hidden:
        raise FigureError(f"figure {name!r} hides its data: {'; '.join(hidden)}.")
    for kind, content in contents.items():
        with atomic_path(folder / f"{name}.{kind}") as tmp:
            tmp.write_bytes(content)
    return ReportFigure(root=root, pdf=(folder / f"{name}.pdf").relative_to(root).as_posix(),
                        png=(folder / f"{name}.png").relative_to(root).as_posix(), caption=caption,
                        label=f"fig:{task}:{name}", sha256={k: sha256_bytes(v) for k, v in contents.items()},
                        made_by=getattr(fig, "mlcms_made_by", None))


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
