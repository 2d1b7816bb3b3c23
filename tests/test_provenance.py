"""What the report says about its sources: public links without credentials, the cell and helper
behind each figure and table, the parameters a section ran with, and LaTeX-safe text."""

import os

import matplotlib.pyplot as plt
import pytest

from helpers import figures, provenance
from helpers.atomic import write_atomic


@pytest.mark.parametrize(("remote", "public"), [
    ("https://user:ghp_SECRET@github.com/group/ex4.git", "https://github.com/group/ex4"),
    ("https://oauth2:glpat-SECRET@gitlab.lrz.de/group/ex4", "https://gitlab.lrz.de/group/ex4"),
    ("https://github.com/group/ex4.git?token=SECRET#frag", "https://github.com/group/ex4"),
    ("git@github.com:group/ex4.git", "https://github.com/group/ex4"),
    ("ssh://git@github.com:22/group/ex4.git", "https://github.com/group/ex4"),
    ("/home/student/private/ex4", None),
    ("../ex4", None),
    ("file:///home/student/ex4.git", None),
    ("http://intranet.local/ex4.git", None),
    ("", None),
])
def test_only_https_and_ssh_remotes_are_shown_and_never_their_credentials(remote, public):
    assert provenance.public_url(remote) == public


def test_a_source_note_links_notebook_and_helper_at_the_commit():
    links = provenance.Links("https://github.com/group/ex4", "0123abc")
    note = provenance.source_note("task1_pca.ipynb", "cell-04", ["helpers.pca.PCA"], links,
                                  {"function": "helpers.plots.curves", "file": "helpers/plots.py", "line": 60})
    assert r"\href{https://github.com/group/ex4/blob/0123abc/notebooks/task1_pca.ipynb}" in note
    assert r"\href{https://github.com/group/ex4/blob/0123abc/helpers/plots.py\#L60}{\texttt{plots.curves}}" in note
    assert "helpers/pca.py\\#L" in note and r"cell \texttt{cell-04}" in note
    local = provenance.source_note("task1_pca.ipynb", "cell-04", ["helpers.pca.PCA"], provenance.Links(None, "0123abc"))
    assert "href" not in local and r"\texttt{notebooks/task1\_pca.ipynb}" in local


def test_the_helpers_a_cell_calls_are_found_without_the_display_plumbing():
    imports = "from helpers import data, plots\nfrom helpers.pca import PCA as P\nfrom helpers.figures import publish"
    modules, names = provenance.helper_imports([imports])
    cell = "x = data.load_pca_dataset()\npublish(plots.curves(P().fit(x)), TASK, 'a', 'b')\nprint(len(x))"
    assert provenance.called_helpers(cell, modules, names) == [
        "helpers.data.load_pca_dataset", "helpers.plots.curves", "helpers.pca.PCA"]


def test_parameter_values_reach_latex_escaped_and_changes_are_marked():
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                           "source": 'label: str = "plain"\nn: int = 3\nsize: Optional[int] = None\n'
                                     'output_dir: str = "."'}],
                "metadata": {"papermill": {"parameters": {"label": "a_b $x$ 50% #1 \\input{/etc/passwd} ~{}",
                                                          "output_dir": "/tmp/run"}}}}
    rows = provenance.run_parameters(notebook)
    assert rows == [("label", "a_b $x$ 50% #1 \\input{/etc/passwd} ~{}", "plain"), ("n", 3, 3), ("size", None, None)]
    table = provenance.parameters_table("t", rows, provenance.Links(None, None), "t.ipynb")
    assert r'\textbf{"a\_b \$x\$ 50\% \#1 \textbackslash{}input\{/etc/passwd\} \textasciitilde{}\{\}"}' in table
    assert "the 1 in bold differ" in table and "(default \"plain\")" in table
    assert r"\texttt{size} & None" in table  # as the parameters cell writes it
    assert "/tmp/run" not in table  # where files go is not a parameter of the science


def test_atomic_writes_honour_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        assert write_atomic(tmp_path / "a.txt", "x").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert write_atomic(tmp_path / "b.txt", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)


def test_a_glyph_missing_from_the_figure_fonts_is_an_error(tmp_path):
    fig, ax = figures.new_figure(width="half")
    ax.set_title("\u4e2d\u6587")
    with pytest.raises(figures.FigureError, match="fonts lack characters.*Glyph 20013"):
        figures.save_figure(fig, "t", "glyphs", "Chinese title.", output_dir=tmp_path)
    assert not (tmp_path / "figures" / "t").exists() or list((tmp_path / "figures" / "t").iterdir()) == []
    plt.close("all")


def test_a_figure_records_its_checksums_and_the_helper_that_drew_it(tmp_path):
    def draw():
        fig, ax = figures.new_figure(width="half")
        ax.plot([0, 1])
        return fig

    saved = figures.save_figure(draw(), "t", "line", "A line.", output_dir=tmp_path)
    meta = saved._repr_mimebundle_()[1]["mlcms_figure"]
    assert meta["pdf"] == "figures/t/line.pdf" and meta["png"] == "figures/t/line.png"
    assert meta["sha256"]["pdf"] == figures.sha256_bytes((tmp_path / "figures/t/line.pdf").read_bytes())
    assert meta["made_by"]["function"].endswith("draw") and meta["made_by"]["file"] == "tests/test_provenance.py"
