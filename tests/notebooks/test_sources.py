"""The notebooks as source: narrative plus calls, one task id, stable cell ids, and parameter
files that hold only what differs from the notebooks' defaults."""

import ast
import copy
import json
import re

import nbformat
import nbstripout
import pytest
import yaml

from helpers.core.files import ROOT
from helpers.pipeline import cell_rules as notebook_rules

NOTEBOOKS = sorted((ROOT / "notebooks").glob("task*.ipynb"))
ALL_NOTEBOOKS = NOTEBOOKS + sorted((ROOT / "notebooks" / "sweeps").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _defaults(path) -> dict:
    cell = next(c for c in _cells(path) if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {node.target.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.AnnAssign)}


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_narrative_and_calls(path):
    assert notebook_rules.notebook_problems(path) == []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_cell_ids_are_numbered_and_outputs_are_not_committed(path):
    cells = _cells(path)
    assert [c["id"] for c in cells] == [f"cell-{i:02d}" for i in range(len(cells))]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_task_id_is_the_notebook_name(path):
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    assert re.findall(r'^TASK = "(.+)"$', code, flags=re.M) == [path.stem]
    assert path.stem in yaml.safe_load((ROOT / "report" / "metadata.yaml").read_text())["tasks"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_files_hold_only_what_differs_from_the_defaults(path):
    defaults = _defaults(path)
    for folder in ("params", "params/smoke"):
        values = yaml.safe_load((ROOT / folder / f"{path.stem}.yaml").read_text())
        assert isinstance(values, dict), f"{folder}/{path.stem}.yaml must hold a mapping ({{}} for none)"
        unknown = set(values) - set(defaults)
        assert not unknown, f"{folder}/{path.stem}.yaml sets parameters the notebook does not have: {unknown}"
        same = {name for name, value in values.items() if value == defaults[name]}
        assert not same, f"{folder}/{path.stem}.yaml repeats the notebook's defaults: {same}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_has_a_declared_range(path):
    """check_parameters' checks name every parameter of the parameters cell (sizes, indices, rates, paths, ...)."""
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    calls = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "check_parameters"]
    assert len(calls) == 1 and len(calls[0].args) == 2, "one check_parameters call, with the ranges"
    declared = {key.value for key in calls[0].args[1].keys}
    assert declared == set(_defaults(path)), f"without a range: {set(_defaults(path)) - declared}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_outside_make_do_not_write_where_the_report_reads(path):
    output_dir = _defaults(path)["output_dir"]
    assert (ROOT / output_dir).resolve() != ROOT and (ROOT / output_dir).resolve().is_relative_to(ROOT / "build")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_as_jupyter_writes_them_and_the_git_filter_leaves_them(path):
    """JupyterLab and nbconvert write this form, so opening a notebook changes nothing git sees."""
    from jupyter_client.kernelspec import KernelSpecManager

    text = path.read_text()
    notebook = nbformat.reads(text, as_version=4)
    assert nbformat.writes(notebook) + "\n" == text
    # What a run in JupyterLab adds before it saves: the running kernel's spec, its language_info,
    # outputs and execution counts.
    saved = copy.deepcopy(notebook)
    spec = KernelSpecManager().get_kernel_spec(notebook.metadata.kernelspec.name)
    saved.metadata.kernelspec = {"display_name": spec.display_name, "language": spec.language,
                                 "name": notebook.metadata.kernelspec.name}
    saved.metadata.language_info = {"name": "python", "version": "3.11.7"}
    code = next(cell for cell in saved.cells if cell.cell_type == "code")
    code.execution_count, code.outputs = 1, [nbformat.v4.new_output("stream", text="hello\n")]
    stripped = nbstripout.strip_output(saved, keep_output=False, keep_count=False, keep_id=True,
                                       extra_keys=["metadata.language_info"])
    assert nbformat.writes(stripped) == nbformat.writes(notebook)


def test_the_git_filter_is_declared_for_notebooks_with_the_options_make_setup_gives_it():
    assert "*.ipynb filter=nbstripout" in (ROOT / ".gitattributes").read_text()
    assert "-m nbstripout --keep-id --extra-keys metadata.language_info" in (ROOT / "Makefile").read_text()
