"""Figures: saved as PDF and PNG, byte-reproducibly and atomically, and shown with what the report needs."""

import matplotlib.pyplot as plt
import pytest

from helpers.notebook import figures


def _figure():
    fig, ax = figures.new_figure(width="half")
    ax.plot([0, 1, 2], [1, 0, 1], label="a")
    ax.legend()
    return fig


def test_the_same_figure_gives_the_same_bytes(tmp_path):
    first = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path / "a")
    second = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path / "b")
    assert first.file("pdf").read_bytes() == second.file("pdf").read_bytes()
    assert first.file("png").read_bytes() == second.file("png").read_bytes()
    assert first.file("pdf").read_bytes().startswith(b"%PDF") and b"CreationDate" not in first.file().read_bytes()


def test_a_saved_figure_records_its_files_checksums_and_the_helper_that_drew_it(tmp_path):
    saved = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path)
    assert saved.caption == "A curve." and saved.pdf == "figures/t/curve.pdf" and saved.png == "figures/t/curve.png"
    assert saved.sha256["pdf"] == figures.sha256_bytes((tmp_path / "figures/t/curve.pdf").read_bytes())
    assert saved.made_by == {"function": "tests.notebook.test_figures._figure",
                             "file": "tests/notebook/test_figures.py", "line": _figure.__code__.co_firstlineno}


def test_a_glyph_missing_from_the_figure_fonts_is_an_error(tmp_path):
    fig, ax = figures.new_figure(width="half")
    ax.set_title("\u4e2d\u6587")
    with pytest.raises(figures.FigureError, match="fonts lack characters.*Glyph 20013"):
        figures.save_figure(fig, "t", "glyphs", "Chinese title.", output_dir=tmp_path)
    assert not (tmp_path / "figures" / "t").exists() or list((tmp_path / "figures" / "t").iterdir()) == []
    plt.close("all")


def test_a_failing_save_keeps_the_previous_figure(tmp_path, monkeypatch):
    good = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path)
    before = good.file().read_bytes()
    fig = _figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        figures.save_figure(fig, "t", "curve", "A curve.", output_dir=tmp_path)
    assert good.file().read_bytes() == before
    assert sorted(p.name for p in good.file().parent.iterdir()) == ["curve.pdf", "curve.png"]


@pytest.mark.parametrize(("name", "caption", "problem"), [("x", " ", "needs a caption"),
                                                          ("../x", "c", "letters, digits")])
def test_figure_names_and_captions_are_checked(tmp_path, name, caption, problem):
    with pytest.raises(ValueError, match=problem):
        figures.save_figure(_figure(), "t", name, caption, output_dir=tmp_path)
    plt.close("all")


def test_a_legend_entry_without_anything_drawn_is_named():
    fig, ax = figures.new_figure()
    ax.plot([], [], label="proxy")
    ax.plot([0, 1], [0, 1], label="real")
    ax.plot([5, 6], [5, 6], label="outside")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    assert figures.undrawn(fig) == ["the legend entry 'proxy' has nothing drawn inside its axes",
                                    "the legend entry 'outside' has nothing drawn inside its axes"]
    plt.close(fig)


def test_a_figure_with_an_annotation_outside_its_axes_is_not_saved(tmp_path):
    fig, ax = figures.new_figure()
    ax.plot([0, 1], [0, 1])
    ax.annotate("tip", xy=(0.5, 3.0), xytext=(0.5, 0.5), arrowprops={"arrowstyle": "->"})
    with pytest.raises(figures.FigureError, match="'tip' at \\(0.5, 3.0\\) lies outside its axes"):
        figures.save_figure(fig, "t", "arrow", "An arrow.", output_dir=tmp_path)
    assert not (tmp_path / "figures" / "t").exists()


def test_a_legend_over_bars_lines_or_points_is_named_and_one_beside_them_is_not(tmp_path):
    fig, (bars, curve) = figures.new_figure(1, 2)
    bars.bar(range(10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], label="height")
    bars.set_title("bars")
    bars.legend(loc="upper right")  # over the tallest bars, as a figure of the report had it
    curve.plot([0, 1], [0, 1], label="rising")
    curve.scatter([1.0], [0.0], label="a point")
    curve.legend(loc="lower right")  # over the point
    assert figures.covered(fig) == [
        "the legend covers data of 'bars': a bar; move it outside the axes or to an empty corner",
        "the legend covers data of 'axes 2': points or segments; move it outside the axes or to an empty corner"]
    with pytest.raises(figures.FigureError, match="figure 'bars' hides its data: the legend covers data of 'bars'"):
        figures.save_figure(fig, "t", "bars", "Bars.", output_dir=tmp_path)
    fig, ax = figures.new_figure()
    ax.plot([0, 1], [0, 1], label="rising")
    ax.legend(loc="upper left")  # the empty corner above the diagonal
    assert figures.covered(fig) == []
    plt.close("all")


def test_a_notebook_shows_a_figure_as_wide_as_on_the_page(tmp_path):
    from IPython.core.formatters import format_display_data

    saved = figures.save_figure(_figure(), "t", "curve", "A curve.", output_dir=tmp_path)
    data, metadata = format_display_data(saved)
    assert data["image/png"].startswith(b"\x89PNG")
    assert metadata["image/png"] == {"width": round(figures.WIDTHS["half"] * 100)}  # 100 px per inch
