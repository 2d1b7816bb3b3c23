"""What the report says about its sources: public links without credentials, the cell and helpers
behind each figure and table, and the parameters a section ran with."""

import pytest

from helpers.pipeline import provenance


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


def test_a_source_note_links_notebook_and_helpers_at_the_commit():
    links = provenance.Links("https://github.com/group/ex4", "0123abc")
    made_by = {"function": "helpers.notebook.plots.curves", "file": "helpers/notebook/plots.py", "line": 60}
    note = provenance.source_note("task1_pca.ipynb", "cell-04", ["helpers.pca.PCA"], links, made_by)
    assert note["cell"] == "cell-04"
    assert note["notebook"]["url"] == "https://github.com/group/ex4/blob/0123abc/notebooks/task1_pca.ipynb"
    assert note["helpers"][0] == {"text": "notebook.plots.curves",
                                  "url": "https://github.com/group/ex4/blob/0123abc/helpers/notebook/plots.py#L60"}
    assert note["helpers"][1]["text"] == "pca.PCA"
    assert note["helpers"][1]["url"].startswith("https://github.com/group/ex4/blob/0123abc/helpers/pca/estimator.py#L")


def test_without_a_remote_a_source_note_names_files_without_links():
    local = provenance.source_note("task1_pca.ipynb", "cell-04", ["helpers.pca.PCA"], provenance.Links(None, "0123abc"))
    assert local["notebook"] == {"text": "notebooks/task1_pca.ipynb", "url": None}
    assert local["helpers"] == [{"text": "pca.PCA", "url": None}]


def test_a_source_note_names_three_helpers_and_counts_the_rest():
    helpers = ["helpers.core.data.load_vadere", "helpers.pca.PCA", "helpers.pca.images.resize_gray",
               "helpers.pca.images.ssim", "helpers.pca.images.psnr"]
    note = provenance.source_note("t.ipynb", "cell-01", helpers, provenance.Links(None, None))
    assert [h["text"] for h in note["helpers"]] == ["core.data.load_vadere", "pca.PCA", "pca.images.resize_gray"]
    assert note["more"] == 2


def test_the_helpers_a_cell_calls_are_found_without_the_display_plumbing():
    imports = ("from helpers.core import data\nfrom helpers.notebook import plots, publish\n"
               "from helpers.pca import PCA as P")
    names = provenance.helper_imports([imports])
    cell = "x = data.load_pca_dataset()\npublish(plots.curves(P().fit(x)), TASK, 'a', 'b')\nprint(len(x))"
    assert provenance.called_helpers(cell, names) == ["helpers.core.data.load_pca_dataset", "helpers.pca.PCA"]


def test_a_section_lists_its_parameters_with_the_changed_ones_marked():
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                           "source": 'label: str = "plain"\nn: int = 3\nsize: Optional[int] = None\n'
                                     'output_dir: str = "."'}],
                "metadata": {"papermill": {"parameters": {"label": "a_b", "output_dir": "/tmp/run"}}}}
    rows = provenance.run_parameters(notebook)
    assert rows == [("label", "a_b", "plain"), ("n", 3, 3), ("size", None, None)]  # where files go is left out
    table = provenance.parameters_table(rows, provenance.Links(None, None), "t.ipynb")
    assert table["changed"] == 1 and table["label"] == "tab:t:parameters"
    assert table["rows"][0] == {"name": "label", "value": '"a_b"', "default": '"plain"', "changed": True}
    assert table["rows"][2]["value"] == "None"  # as the parameters cell writes it
