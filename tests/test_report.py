"""The report build: sections from executed notebooks, computed numbers in the PDF, and failures
that keep the previous PDF."""

import json
import shutil

import nbformat
import pytest
import yaml

from helpers import report
from helpers.notebook import percent

from .conftest import pdf_text, require_latex

pytestmark = [pytest.mark.slow, pytest.mark.latex]


@pytest.fixture(scope="module")
def built(smoke_task1, tmp_path_factory):
    require_latex()
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    report.build_report(smoke_task1 / "notebooks", out, results_dir=smoke_task1 / "results")
    return out, pdf_text(out)


def test_pdf_has_title_block_tables_and_the_task1_section(built):
    _, text = built
    assert "Report for exercise 4" in text and "Group A" in text
    assert "Who did what" in text and "Software" in text
    assert "Task 1: Principal component analysis" in text
    assert "Part 3: pedestrian trajectories" in text
    assert "Task 2" not in text  # tasks without an executed notebook are absent
    assert "import numpy" not in text  # code is hidden


def test_pdf_quotes_the_computed_numbers(built, smoke_task1):
    _, text = built
    results = json.loads((smoke_task1 / "results" / "task1.json").read_text())["results"]
    flat = " ".join(text.split())
    assert percent(results["dataset_2d"]["energy"][0], 2) in flat
    assert f"L = {results['face']['n_components_under_loss']} components on" in flat
    assert percent(results["pedestrians"]["cumulative_energy"][1], 1) in flat
    numpy_version = json.loads((smoke_task1 / "results" / "task1.json").read_text())["environment"]["numpy"]
    assert numpy_version in flat


def test_figures_are_embedded_as_vector_graphics(built):
    out, text = built
    assert text.count("Figure ") >= 7
    pdf = out.read_bytes()
    assert pdf.count(b"/Subtype /Form") + pdf.count(b"/Subtype/Form") >= 7  # included PDFs, not bitmaps


def _copy_notebooks(smoke_task1, tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(smoke_task1 / "notebooks", folder)
    return folder


def test_missing_glyph_fails_and_keeps_the_previous_pdf(smoke_task1, tmp_path):
    require_latex()
    folder = _copy_notebooks(smoke_task1, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A glyph no report font has: \u4e2d\u6587"))
    nbformat.write(nb, folder / "task1_pca.ipynb")
    out = tmp_path / "report.pdf"
    out.write_bytes(b"%PDF previous good report")
    with pytest.raises(report.ReportError, match="fonts lack characters"):
        report.build_report(folder, out, results_dir=smoke_task1 / "results", keep_tex=False)
    assert out.read_bytes() == b"%PDF previous good report"


def test_bad_metadata_and_failed_notebooks_are_refused(smoke_task1, tmp_path):
    meta = yaml.safe_load(report.load_metadata.__defaults__[0].read_text())
    meta["tasks"]["task1_pca"]["shares"]["Author One"] += 5
    bad = tmp_path / "metadata.yaml"
    bad.write_text(yaml.safe_dump(meta))
    with pytest.raises(report.ReportError, match="task1_pca add up to 105"):
        report.load_metadata(bad)

    folder = _copy_notebooks(smoke_task1, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    nbformat.write(nb, folder / "task1_pca.ipynb")
    with pytest.raises(report.ReportError, match="failed cell \\(ValueError: boom\\)"):
        report.notebook_section(folder / "task1_pca.ipynb", {})
