"""JupyterLab as `make lab` starts it: a notebook saved with outputs but unchanged in its committed form
shows as unchanged in git status; a real edit shows, and nothing is staged."""

import json
import shutil
import subprocess
import sys

import nbformat

from helpers.core.files import ROOT
from helpers.pipeline.lab import post_save, refresh_git


def _git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout


def test_a_notebook_saved_with_outputs_shows_as_unchanged_and_an_edit_still_shows(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "a@b.c")
    _git(tmp_path, "config", "user.name", "a")
    # the filter as `make setup` configures it, and the repository's attributes
    _git(tmp_path, "config", "filter.nbstripout.clean",
         f"'{sys.executable}' -m nbstripout --keep-id --extra-keys metadata.language_info")
    _git(tmp_path, "config", "filter.nbstripout.smudge", "cat")
    shutil.copy(ROOT / ".gitattributes", tmp_path)
    notebook = tmp_path / "task1_pca.ipynb"
    shutil.copy(ROOT / "notebooks" / "task1_pca.ipynb", notebook)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "notebook")
    # what a run in JupyterLab saves: outputs, counts, language_info
    saved = nbformat.read(notebook, as_version=4)
    code = next(cell for cell in saved.cells if cell.cell_type == "code")
    code.execution_count, code.outputs = 1, [nbformat.v4.new_output("stream", text="x" * 5000)]
    saved.metadata.language_info = {"name": "python", "version": "3.11.7"}
    nbformat.write(saved, notebook)
    assert _git(tmp_path, "status", "--porcelain") == " M task1_pca.ipynb\n"  # git's size shortcut
    post_save(os_path=str(notebook), model={}, contents_manager=None).join(timeout=120)  # as Jupyter calls it
    assert _git(tmp_path, "status", "--porcelain") == ""
    code.source += "\n# an edit"
    nbformat.write(saved, notebook)
    assert not refresh_git(str(notebook))
    assert _git(tmp_path, "status", "--porcelain") == " M task1_pca.ipynb\n"
    assert _git(tmp_path, "diff", "--cached", "--name-only") == ""  # nothing staged
    assert "an edit" in _git(tmp_path, "diff")
    assert json.loads(notebook.read_text())["cells"]  # the saved file itself is left as Lab wrote it


def test_a_file_outside_git_or_not_a_notebook_is_left_alone(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b.txt").write_text("b")
    assert not refresh_git(str(tmp_path / "a.ipynb")) and not refresh_git(str(tmp_path / "b.txt"))
