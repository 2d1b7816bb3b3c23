"""One plotting function per figure kind; each returns a styled matplotlib figure. Fitted estimators
are read by their attributes (a PCA's ``mean_``, ``all_components_``, ...), so no science is imported here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .figures import new_figure


def principal_directions(X: np.ndarray, pca, *, scale: float = 2.0):
    """Scatter of 2-D data with each principal direction drawn from the mean.

    All arrows have the same length, ``scale`` standard deviations along the first component,
    so that a direction with little energy stays visible; the legend gives the energies.
    """
    fig, ax = new_figure(width="half", aspect=0.8)
    ax.scatter(X[:, 0], X[:, 1], s=8, alpha=0.6, color="0.45", label="data", linewidths=0)
    length = scale * pca.singular_values_[0] / np.sqrt(max(X.shape[0] - 1, 1))
    for i, direction in enumerate(pca.all_components_):
        end = pca.mean_ + length * direction
        # The line carries the legend entry and takes the tip into the axes' limits; the head goes on it.
        ax.plot(*np.transpose([pca.mean_, end]), color=f"C{i}", lw=1.6,
                label=f"PC {i + 1} (energy {100 * pca.energy_[i]:.1f}%)")
        ax.annotate("", xy=end, xytext=pca.mean_, arrowprops={"arrowstyle": "-|>", "color": f"C{i}", "lw": 1.6})
    ax.scatter(*pca.mean_, color="k", s=14, zorder=3, label="mean")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)  # the arrows leave no empty corner
    return fig


def projection_1d(X: np.ndarray, pca):
    """The data and its orthogonal projection onto the first principal component."""
    fig, ax = new_figure(width="half", aspect=0.8)
    projected = pca.reconstruct(X, 1)
    for x, p in zip(X, projected, strict=True):
        ax.plot([x[0], p[0]], [x[1], p[1]], color="0.75", lw=0.5, zorder=1)
    ax.scatter(X[:, 0], X[:, 1], s=8, color="0.45", label="data", linewidths=0, zorder=2)
    ax.scatter(projected[:, 0], projected[:, 1], s=8, color="C0", label="projection on PC 1", zorder=3)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    ax.legend(loc="upper left", frameon=False)
    return fig


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str], *, ncols: int = 2,
               vmin: float = 0.0, vmax: float = 255.0):
    """Grey images side by side with titles."""
    nrows = int(np.ceil(len(images) / ncols))
    height, width = np.asarray(images[0]).shape
    fig, axes = new_figure(nrows, ncols, aspect=nrows / ncols * height / width * 1.12, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title)
    return fig


def curves(x: np.ndarray, ys: Mapping[str, np.ndarray], *, xlabel: str, ylabel: str,
           logy: bool = False, marks: Mapping[str, tuple[float, float]] | None = None,
           hlines: Mapping[str, float] | None = None, width: str = "full", aspect: float = 0.45):
    """Line plot of one or more curves over a shared x, with optional marked points and levels."""
    fig, ax = new_figure(width=width, aspect=aspect)
    for label, y in ys.items():
        ax.plot(x, y, label=label)
    for i, (label, level) in enumerate((hlines or {}).items()):
        ax.axhline(level, color="0.3", lw=0.8, ls=("--", ":", "-.")[i % 3], label=label)
    for label, (mx, my) in (marks or {}).items():
        ax.plot([mx], [my], "o", color="k", ms=4)
        ax.annotate(label, (mx, my), xytext=(6, 6), textcoords="offset points", fontsize=7.5)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(frameon=False)
    return fig


def epoch_curves(histories: Mapping[str, Sequence[float]], *, ylabel: str,
                 marks: Mapping[str, tuple[float, float]] | None = None, width: str = "full", aspect: float = 0.45):
    """Per-epoch curves of possibly different lengths (epoch 1, 2, ... on the x-axis)."""
    fig, ax = new_figure(width=width, aspect=aspect)
    for label, values in histories.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    for label, (mx, my) in (marks or {}).items():
        ax.plot([mx], [my], "o", color="k", ms=4)
        ax.annotate(label, (mx, my), xytext=(6, 10), textcoords="offset points", fontsize=7.5,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.legend(frameon=False)
    return fig


def energy_bars(energy: np.ndarray, *, n_shown: int = 10, threshold: float | None = None):
    """Energy per component (bars) and cumulative energy (line) for the leading components."""
    fig, ax = new_figure(width="wide", aspect=0.42)
    k = min(n_shown, energy.size)
    index = np.arange(1, k + 1)
    ax.bar(index, energy[:k], color="C0", alpha=0.7, label="energy of component $i$")
    ax.plot(index, np.cumsum(energy)[:k], "o-", color="C1", label="cumulative energy")
    if threshold is not None:
        ax.axhline(threshold, color="0.3", ls="--", lw=0.8, label=f"{100 * threshold:.0f}% of the energy")
    ax.set(xlabel="component $i$", ylabel="share of energy", xticks=index, ylim=(0, 1.05))
    ax.legend(frameon=False, loc="center right")
    return fig


def pedestrian_paths(paths: Mapping[int, Mapping[int, np.ndarray]], *, ncols: int = 2):
    """One panel per pedestrian: the original path (grey, key 0) and its reconstructions from L
    components (other keys), as reconstructed_paths returns them; a dot marks where each starts. One
    legend for all panels, below them, where it hides no path."""
    nrows = int(np.ceil(len(paths) / ncols))
    fig, axes = new_figure(nrows, ncols, aspect=0.42 * nrows * (2 / ncols), squeeze=False)
    for ax in axes.flat[len(paths):]:
        ax.axis("off")
    for ax, (pedestrian, versions) in zip(axes.flat, paths.items(), strict=False):
        for i, (n, points) in enumerate(versions.items()):
            style = ({"color": "0.6", "lw": 0.6} if n == 0 else
                     {"color": f"C{i - 1}", "lw": 1.0, "ls": ["-", "--", ":"][(i - 1) % 3]})
            ax.plot(points[:, 0], points[:, 1], label="original" if n == 0 else f"{n} components", **style)
            ax.plot(*points[0], "o", color="k", ms=3)
        ax.set(xlabel="$x$", ylabel="$y$", title=f"pedestrian {pedestrian + 1}")
        ax.set_aspect("equal", adjustable="datalim")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    return fig


def function_grid(x: np.ndarray, ys: Mapping[str, np.ndarray], *, xlabel: str, ncols: int = 5,
                  color: np.ndarray | None = None, size: float = 1.5, aspect_per_row: float = 0.24):
    """Each y against the same x, one small panel each (e.g. eigenfunctions against phi_1)."""
    nrows = int(np.ceil(len(ys) / ncols))
    fig, axes = new_figure(nrows, ncols, aspect=aspect_per_row * nrows, squeeze=False)
    for ax in axes.flat[len(ys):]:
        ax.axis("off")
    for ax, (label, y) in zip(axes.flat, ys.items(), strict=False):
        _function_panel(ax, x, y, label, xlabel, color, size)
    return fig


def _function_panel(ax, x: np.ndarray, y: np.ndarray, label: str, xlabel: str, color: np.ndarray | None,
                    size: float) -> None:
    colouring = {"c": color, "cmap": "viridis"} if color is not None else {"color": "C0"}
    ax.scatter(x, y, s=size, linewidths=0, rasterized=len(x) > 2000, **colouring)
    ax.set_title(label, fontsize=7.5)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.tick_params(labelsize=6)
    ax.locator_params(axis="x", nbins=3)
    ax.ticklabel_format(useOffset=False)
    level = float(np.mean(y))
    if np.ptp(y) <= 1e-9 * max(abs(level), 1e-300):  # constant up to rounding: do not magnify the noise
        ax.set_ylim(level - 0.5 * abs(level) - 1e-12, level + 0.5 * abs(level) + 1e-12)


def eigenfunction_pairs(sets: Mapping[str, np.ndarray], *, color: np.ndarray | None = None, ncols: int = 5,
                        size: float = 1.0):
    """Two or more sets of eigenfunctions (columns phi_0, phi_1, ...) side by side: for each phi_l
    but phi_1, one row per set of phi_l against that set's phi_1, ``ncols`` eigenfunctions a row."""
    first = next(iter(sets.values()))
    others = [index for index in range(first.shape[1]) if index != 1]
    blocks = [others[start:start + ncols] for start in range(0, len(others), ncols)]
    fig, axes = new_figure(len(blocks) * len(sets), ncols, aspect=0.22 * len(blocks) * len(sets), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for b, block in enumerate(blocks):
        for s, (name, phi) in enumerate(sets.items()):
            for c, index in enumerate(block):
                ax = axes[b * len(sets) + s, c]
                ax.axis("on")
                _function_panel(ax, phi[:, 1], phi[:, index], f"{name}: $\\varphi_{{{index}}}$", "$\\varphi_1$", color,
                                size)
    return fig


def eigenfunctions_against_first(eigenfunctions: np.ndarray, *, color: np.ndarray | None = None, ncols: int = 5):
    """Every eigenfunction phi_l but phi_1 (columns of ``eigenfunctions``) against phi_1."""
    others = [index for index in range(eigenfunctions.shape[1]) if index != 1]
    panels = {f"$\\varphi_{{{index}}}$": eigenfunctions[:, index] for index in others}
    return function_grid(eigenfunctions[:, 1], panels, xlabel="$\\varphi_1$", color=color, ncols=ncols)


def scatter_3d(points: np.ndarray, color: np.ndarray, *, labels: Sequence[str] = ("$x$", "$y$", "$z$"),
               colorbar: str | None = None, elev: float = 15, azim: float = -70, width: str = "wide",
               size: float = 2.0):
    """A 3-D point cloud coloured by a scalar (rasterised points inside a vector frame)."""
    fig = new_figure(width=width, aspect=0.75)[0]
    fig.clf()
    ax = fig.add_subplot(projection="3d")
    scatter = ax.scatter(*np.asarray(points).T[:3], c=color, s=size, linewidths=0, cmap="viridis",
                         rasterized=True)
    ax.set(xlabel=labels[0], ylabel=labels[1], zlabel=labels[2])
    ax.view_init(elev=elev, azim=azim)
    ax.tick_params(labelsize=6)
    if colorbar:
        fig.colorbar(scatter, ax=ax, shrink=0.6, label=colorbar)
    return fig


def bars(values: Mapping[str, np.ndarray] | np.ndarray, positions: np.ndarray | None = None, *, xlabel: str,
         ylabel: str, threshold: float | None = None, threshold_label: str = "threshold", width: str = "full",
         aspect: float = 0.36):
    """Grouped bars per position (e.g. a residual per eigenfunction; default positions 1, 2, ...),
    with an optional level; the legend above the axes."""
    fig, ax = new_figure(width=width, aspect=aspect)
    groups = values if isinstance(values, Mapping) else {"": values}
    if positions is None:
        positions = np.arange(1, len(next(iter(groups.values()))) + 1)
    step = 0.8 / len(groups)
    for i, (label, heights) in enumerate(groups.items()):
        ax.bar(np.asarray(positions) + (i - (len(groups) - 1) / 2) * step, heights, width=step,
               label=label or None, color=f"C{i}")
    if threshold is not None:
        ax.axhline(threshold, color="0.3", ls="--", lw=0.8, label=threshold_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, xticks=positions)
    handles, labels = ax.get_legend_handles_labels()
    if labels:  # above the axes: bars reach any height, and no corner of the axes stays free
        fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), frameon=False)
    return fig


def digit_rows(rows: Mapping[str, np.ndarray], *, side: int = 28, width: str = "full"):
    """Rows of small images (e.g. test digits, their reconstructions, generated digits), labelled."""
    names = list(rows)
    n = max(len(images) for images in rows.values())
    fig, axes = new_figure(len(names), n, width=width, aspect=len(names) / n * 1.2, squeeze=False,
                           layout=None, gridspec_kw={"wspace": 0.05, "hspace": 0.3})
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.01, top=1 - 0.3 / len(names))
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(rows[name]):
                ax.imshow(np.clip(np.asarray(rows[name][c]).reshape(side, side), 0, 1), cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_title(name, loc="left", fontsize=7.5, pad=2)
    return fig


def latent_grid(panels: Mapping[str, np.ndarray], labels: np.ndarray, *, ncols: int = 3):
    """2-D latent codes coloured by class label, one panel per stage, one shared legend."""
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure(nrows, ncols, aspect=0.36 * nrows * 3 / ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, codes) in zip(axes.flat, panels.items(), strict=False):
        codes = np.asarray(codes)
        scatter = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=1.0,
                             linewidths=0, rasterized=True)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.colorbar(scatter, ax=axes, ticks=range(10), label="digit", shrink=0.8)
    return fig


def positions(panels: Mapping[str, Mapping[str, np.ndarray]], *, rectangle=None, ncols: int = 2,
              styles: Mapping[str, dict] | None = None):
    """Scatter plots of 2-D positions, one panel per title, each with one or more labelled point
    sets and, optionally, a rectangle given by two opposite corners. A set keeps its colour in every
    panel; one legend below the panels names each set once (with its size where first shown)."""
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure(nrows, ncols, aspect=nrows * 0.62 / ncols, squeeze=False,
                           sharex=True, sharey=True)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    colours = {label: f"C{k}" for k, label in enumerate(dict.fromkeys(label for sets in panels.values()
                                                                       for label in sets))}
    named = set()
    for ax, (title, sets) in zip(axes.flat, panels.items(), strict=False):
        for label, points in sets.items():
            points = np.asarray(points)
            style = {"s": 2.0, "alpha": 0.6, "color": colours[label], "linewidths": 0, "rasterized": True,
                     **(styles or {}).get(label, {})}
            ax.scatter(points[:, 0], points[:, 1], label=None if label in named else f"{label} ({len(points)})",
                       **style)
            named.add(label)
        if rectangle is not None:
            (x0, y0), (x1, y1) = rectangle
            ax.add_patch(_rectangle_patch(x0, y0, x1, y1))
        ax.set_title(title, fontsize=8)
        ax.set(aspect="equal")
    handles = [handle for ax in axes.flat for handle in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=6.5,
               markerscale=3)
    for ax in axes[-1]:
        ax.set_xlabel("$x$ (m)")
    for ax in axes[:, 0]:
        ax.set_ylabel("$y$ (m)")
    return fig


def _rectangle_patch(x0, y0, x1, y1):
    from matplotlib.patches import Rectangle

    return Rectangle((min(x0, x1), min(y0, y1)), abs(x1 - x0), abs(y1 - y0), fill=False, edgecolor="k", lw=1.2,
                     zorder=5)


def histograms(samples: Mapping[str, np.ndarray], *, xlabel: str, bins: int = 40,
               lines: Mapping[str, float] | None = None, pmf: tuple[np.ndarray, np.ndarray, str] | None = None):
    """Overlaid density histograms, optional vertical reference lines, and an optional
    exact probability mass function (x, p, label) drawn as a line."""
    fig, ax = new_figure(width="full", aspect=0.4)
    values = np.concatenate([np.asarray(v, dtype=float) for v in samples.values()])
    edges = np.histogram_bin_edges(values, bins=bins)
    for label, v in samples.items():
        ax.hist(v, bins=edges, density=True, histtype="stepfilled", alpha=0.35, label=label)
    if pmf is not None:
        x, p, label = pmf
        ax.plot(x, p, color="k", lw=1.0, label=label)
    for i, (label, value) in enumerate((lines or {}).items()):
        ax.axvline(value, color=f"C{i}", lw=1.0, ls="--", label=label)
    ax.set(xlabel=xlabel, ylabel="density")
    ax.legend(frameon=False, fontsize=7)
    return fig


def _mosaic_axes(ax, mosaic: np.ndarray, axis_values: np.ndarray, *, ticks: int = 5):
    """Draw a decoded grid with ticks at some tiles' centres, labelled by their latent values."""
    n = len(axis_values)
    side = mosaic.shape[0] / n
    # Anti-aliased: a small panel shows a 560-pixel grid, and nearest-neighbour thinning would alias it.
    ax.imshow(np.clip(mosaic, 0, 1), cmap="gray_r", vmin=0, vmax=1, interpolation="antialiased")
    chosen = np.unique(np.linspace(0, n - 1, ticks).round().astype(int))
    centres = (chosen + 0.5) * side
    ax.set_xticks(centres, [f"{axis_values[i]:.2f}" for i in chosen])
    ax.set_yticks(centres, [f"{axis_values[::-1][i]:.2f}" for i in chosen])
    ax.grid(False)
    ax.tick_params(labelsize=6)


def latent_manifold(codes: np.ndarray, labels: np.ndarray, mosaic: np.ndarray, axis_values: np.ndarray, *,
                    scatter_title: str, mosaic_title: str):
    """The encoded data in the 2-D latent space coloured by digit, with its key (left, the grid's extent
    dashed), beside the decoder's output over the grid (right, ticks in latent units)."""
    fig, (left, right) = new_figure(1, 2, aspect=0.52)
    scatter = left.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=1.0,
                           linewidths=0, rasterized=True)
    low, high = axis_values[0], axis_values[-1]
    left.plot([low, high, high, low, low], [low, low, high, high, low], color="k", lw=0.8, ls="--")
    left.set(xlabel="$z_1$", ylabel="$z_2$", title=scatter_title, aspect="equal")
    fig.colorbar(scatter, ax=left, ticks=range(10), label="digit", shrink=0.8)
    _mosaic_axes(right, mosaic, axis_values)
    right.set(xlabel="$z_1$", ylabel="$z_2$", title=mosaic_title)
    return fig


def mosaics(panels: Mapping[str, np.ndarray], axis_values: np.ndarray, *, ncols: int = 4):
    """Decoded grids side by side (e.g. one per training stage), with the same latent ticks."""
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure(nrows, ncols, aspect=nrows / ncols * 1.15, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, mosaic) in zip(axes.flat, panels.items(), strict=False):
        _mosaic_axes(ax, mosaic, axis_values, ticks=2)
        ax.set_title(title, fontsize=7)
    return fig


def _fill_polygon(ax, polygon, **style):
    """Fill a shapely polygon with holes (as one even-odd path)."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    rings = [np.asarray(polygon.exterior.coords)] + [np.asarray(ring.coords) for ring in polygon.interiors]
    codes = [np.r_[Path.MOVETO, np.full(len(ring) - 2, Path.LINETO), Path.CLOSEPOLY] for ring in rings]
    ax.add_patch(PathPatch(Path(np.concatenate(rings), np.concatenate(codes)), **style))


#: The exit's colour in the evacuation figures: the palette's vermilion, which captions call red.
EXIT_COLOUR = "C1"


def evacuation_map(area, exit_area, starts: np.ndarray, paths: Sequence[np.ndarray], *, data: np.ndarray,
                   rectangle=None):
    """Two panels over the walkable ``area`` (a shapely polygon) with its exit: left the ``data`` the
    area was built from and the start positions, right each person's path from start to exit."""
    fig, axes = new_figure(1, 2, aspect=0.31, sharex=True, sharey=True)
    for ax in axes:
        _fill_polygon(ax, area, facecolor="0.9", edgecolor="0.55", lw=0.5, zorder=0)
        _fill_polygon(ax, exit_area, facecolor=EXIT_COLOUR, edgecolor=EXIT_COLOUR, lw=0.8, zorder=4, label="exit")
        if rectangle is not None:
            (x0, y0), (x1, y1) = rectangle
            ax.add_patch(_rectangle_patch(x0, y0, x1, y1))
        ax.set(aspect="equal", xlabel="$x$ (m)")
    axes[0].scatter(*np.asarray(data).T, s=1.0, color="0.6", linewidths=0, rasterized=True,
                    label=f"training positions ({len(data)})")
    axes[0].scatter(*np.asarray(starts).T, s=5.0, color="C0", linewidths=0, zorder=3,
                    label=f"start positions ({len(starts)})")
    for path in paths:
        axes[1].plot(*np.asarray(path).T, color="C0", lw=0.4, alpha=0.6, rasterized=True)
    axes[1].scatter(*np.asarray(starts).T, s=2.0, color="k", linewidths=0, zorder=3)
    axes[0].set_title("walkable area, exit and start positions", fontsize=8)
    axes[1].set_title("paths to the exit", fontsize=8)
    axes[0].set_ylabel("$y$ (m)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, frameon=False,
               fontsize=6.5, markerscale=3)
    return fig


def people_out(groups: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]], *, total: int):
    """Number of people out against time, one step curve (times, counts) per run, one colour per group."""
    fig, ax = new_figure(width="full", aspect=0.38)
    for i, (label, runs) in enumerate(groups.items()):
        for k, (times, counts) in enumerate(runs):
            ax.step(times, counts, where="post", color=f"C{i}", lw=0.9, alpha=0.8,
                    label=f"{label} ({len(runs)} draws)" if k == 0 else None)
    ax.axhline(total, color="0.3", ls="--", lw=0.8)
    ax.set(xlabel="time (s)", ylabel="people out", ylim=(0, total * 1.05))
    ax.legend(frameon=False, loc="lower right")
    return fig
