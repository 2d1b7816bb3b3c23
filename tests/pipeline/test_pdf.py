"""The report build: sections from executed notebooks, computed numbers in the PDF, and failures
that keep the previous PDF."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers.notebook import percent
from helpers.pipeline import pdf as report
from helpers.pipeline.pdf import latex_escape

from ..conftest import pdf_text, require_latex

pytestmark = [pytest.mark.slow, pytest.mark.latex]


@pytest.fixture(scope="module")
def built(smoke_root, tmp_path_factory):
    require_latex()
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    report.build_report(smoke_root / "notebooks", out, root=smoke_root)
    return out, pdf_text(out)


def test_pdf_has_title_block_tables_and_every_task_section(built):
    _, text = built
    assert "Report for exercise 4" in text and "Group A" in text
    assert "Who did what" in text and "Software" in text
    assert "Task 1: Principal component analysis" in text
    assert "Part 3: pedestrian trajectories" in text
    assert "Task 2: Diffusion maps" in text and "Part 2: the swiss roll" in text
    assert " ".join(text.split()).count("Part 3: pedestrian trajectories") == 2  # Task 1 and Task 2
    assert "Task 3: A variational autoencoder on MNIST" in text and "The two questions" in text
    assert "import numpy" not in text  # code is hidden


def test_a_task_without_an_executed_notebook_stops_the_report(smoke_root, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(smoke_root / "notebooks" / "task1_pca.ipynb", folder)  # the others removed, by `make clean` say
    with pytest.raises(report.ReportError, match=r"no executed notebook for task2_diffusion_maps, task3_vae_mnist, "
                                                 r"task4_fire_evacuation in .*remove it from report/metadata.yaml"):
        report.render_tex(folder, smoke_root, report.load_metadata(), tmp_path)
    assert not (tmp_path / "sections").exists()


def _only_task1(tmp_path, **changes) -> Path:
    """report/metadata.yaml with Task 1 alone and ``changes``."""
    meta = yaml.safe_load((report.REPORT_DIR / "metadata.yaml").read_text())
    meta["tasks"] = {"task1_pca": meta["tasks"]["task1_pca"]}
    meta.update(changes)
    path = tmp_path / "metadata.yaml"
    path.write_text(yaml.safe_dump(meta))
    return path


def test_a_report_of_the_tasks_metadata_names_builds_without_the_others(smoke_root, tmp_path):
    tex = report.render_tex(smoke_root / "notebooks", smoke_root, report.load_metadata(_only_task1(tmp_path)),
                            tmp_path)
    assert r"\input{sections/task1_pca}" in tex and "task2" not in tex


def test_pdf_quotes_the_computed_numbers(built, smoke_root):
    _, text = built
    results = json.loads((smoke_root / "results" / "task1_pca.json").read_text())["results"]
    flat = " ".join(text.split())
    assert percent(results["dataset_2d"]["energy"][0], 2) in flat
    assert f"L = {results['face']['n_components_under_loss']} components on" in flat
    assert percent(results["pedestrians"]["cumulative_energy"][1], 1) in flat
    numpy_version = json.loads((smoke_root / "results" / "task1_pca.json").read_text())["environment"]["numpy"]
    assert numpy_version in flat
    task2 = json.loads((smoke_root / "results" / "task2_diffusion_maps.json").read_text())["results"]
    assert f"With {task2['pedestrians']['eigenfunctions_needed']} eigenfunctions the share drops" in flat
    assert f"{task2['periodic']['eigenvalues'][1]:.4f}" in flat
    task4 = json.loads((smoke_root / "results" / "task4_fire_evacuation.json").read_text())["results"]
    pooled = task4["ensemble_critical_number"]
    assert f"about {pooled['mean']:.0f} people can be in the building" in flat
    assert "Task 4: Fire evacuation planning" in flat and "has the lowest mean validation" in flat
    task3 = json.loads((smoke_root / "results" / "task3_vae_mnist.json").read_text())["results"]
    assert f"{task3['models']['2']['test']['negative_elbo']:.1f}" in flat


def test_figures_are_embedded_as_vector_graphics(built):
    out, text = built
    assert text.count("Figure ") >= 7 + 8
    pdf = out.read_bytes()
    assert pdf.count(b"/Subtype /Form") + pdf.count(b"/Subtype/Form") >= 15  # included PDFs, not bitmaps


def _copy_notebooks(smoke_root, tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(smoke_root / "notebooks", folder)
    return folder


def _with_markdown(smoke_root, tmp_path, markdown: str):
    """The smoke run's executed notebooks, Task 1's with one more markdown cell."""
    folder = _copy_notebooks(smoke_root, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    nbformat.write(nb, folder / "task1_pca.ipynb")
    return folder


def test_missing_glyph_fails_and_keeps_the_previous_pdf(smoke_root, tmp_path):
    require_latex()
    folder = _with_markdown(smoke_root, tmp_path, "A glyph no report font has: \u4e2d\u6587")
    out = tmp_path / "report.pdf"
    out.write_bytes(b"%PDF previous good report")
    with pytest.raises(report.ReportError, match="fonts lack characters"):
        report.build_report(folder, out, root=smoke_root, keep_tex=False)
    assert out.read_bytes() == b"%PDF previous good report"


def test_bad_metadata_and_failed_notebooks_are_refused(smoke_root, tmp_path):
    meta = yaml.safe_load(report.load_metadata.__defaults__[0].read_text())
    meta["tasks"]["task1_pca"]["shares"]["Author One"] += 5
    bad = tmp_path / "metadata.yaml"
    bad.write_text(yaml.safe_dump(meta))
    with pytest.raises(report.ReportError, match="task1_pca add up to 105"):
        report.load_metadata(bad)

    folder = _copy_notebooks(smoke_root, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    nbformat.write(nb, folder / "task1_pca.ipynb")
    with pytest.raises(report.ReportError, match="not every cell completed: cell-\\d+ \\(failed: ValueError: boom\\)"):
        report.notebook_section(folder / "task1_pca.ipynb", {})


def test_captions_name_cell_and_helper_with_links_that_carry_no_credentials(smoke_root, tmp_path, monkeypatch):
    meta = report.load_metadata()
    meta["source_url"] = "https://student:ghp_TOKEN123@github.com/group/ex4.git"
    monkeypatch.setattr(report, "_git", lambda *args: "0123456789abcdef" if args[0] == "rev-parse" else None)
    tex = report.render_tex(smoke_root / "notebooks", smoke_root, meta, tmp_path)
    sections = {p.stem: p.read_text() for p in (tmp_path / "sections").glob("*.tex")}
    everything = tex + "".join(sections.values())
    assert "TOKEN" not in everything and "student" not in everything
    assert r"\url{https://github.com/group/ex4}" in tex and "commit \\texttt{0123456789}" in tex
    assert r"\href{https://github.com/group/ex4/blob/0123456789abcdef/helpers/notebook/plots.py\#L" in everything
    captions = re.findall(r"^\\caption\{.*$", "".join(sections.values()), flags=re.MULTILINE)
    figures_and_tables = [c for c in captions if "parameters this section ran with" not in c]
    assert len(figures_and_tables) > 20
    assert all("Made by cell" in caption for caption in figures_and_tables), figures_and_tables[:3]
    for key, section in sections.items():  # each section opens with its parameters, after its first cell
        assert section.index(f"tab:{key}:parameters") < section.index(r"\begin{figure}")
    assert r"\texttt{image\_width} & \textbf{96} (default 249)" in sections["task1_pca"]


def test_a_local_checkout_is_named_as_such(smoke_root, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_git", lambda *args: "/home/student/private/ex4" if args[0] == "remote" else None)
    tex = report.render_tex(smoke_root / "notebooks", smoke_root, report.load_metadata(), tmp_path)
    assert "a local checkout" in tex and "/home/student" not in tex


def test_a_latex_error_keeps_its_log(smoke_root, tmp_path):
    require_latex()
    folder = _with_markdown(smoke_root, tmp_path, r"A macro no one defined: \undefinedreportmacro{x}")
    out = tmp_path / "build" / "report.pdf"
    refused = r"(?s)xelatex failed.*Undefined control sequence.*full log: .*report.log"
    with pytest.raises(report.ReportError, match=refused):
        report.build_report(folder, out, root=smoke_root, keep_tex=False)
    assert "undefinedreportmacro" in (tmp_path / "build" / "report.log").read_text()
    assert not out.exists()


def test_latex_specials_are_text_outside_math():
    assert latex_escape("50% of x_1 & $x_1$") == r"50\% of x\_1 \& $x_1$"
    assert latex_escape("$x$ \\input{y}", math=False) == r"\$x\$ \textbackslash{}input\{y\}"


@pytest.mark.parametrize("math", [r"$\sigma(z) \le 1.1 \times \bar{\sigma}$", r"$\varphi_1^2, \mathrm{d}x$",
                                  r"$\lVert x \rVert_2 \approx 3$", "$x \u2248 y$"])
def test_plain_math_in_a_caption_stays_math(math):
    assert latex_escape(math) == math


@pytest.mark.parametrize("hostile", [r'$\input|"kpsewhich -var-value=HOME"$', r"$\csname input\endcsname{x}$",
                                     r"$^^5cinput{x}$", r"$\def\x{y}$", r"$x % comment$", r"$\catcode`\^=0$"])
def test_math_that_could_read_define_or_expand_is_printed_as_text(hostile):
    escaped = latex_escape(f"a {hostile} b")
    assert escaped.startswith(r"a \$") and escaped.endswith(r"\$ b")
    assert "\\input" not in escaped and "\\csname" not in escaped and "^^" not in escaped


def test_xelatex_runs_no_program(tmp_path, monkeypatch):
    require_latex()
    monkeypatch.setenv("MY_TOKEN", "ghpSECRET123")
    (tmp_path / "report.tex").write_text("\\documentclass{article}\\begin{document}\n"
                                         "Token: \\input|\"kpsewhich -var-value=MY_TOKEN\" \\end{document}\n")
    try:
        report._run_xelatex(tmp_path, keep_log=tmp_path / "kept.log")
    except report.ReportError:
        pass  # TeX looks for a file of that name and stops: no program ran
    text = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    if (tmp_path / "report.pdf").exists():
        text += pdf_text(tmp_path / "report.pdf")
    assert "kpsewhich" in text and "ghpSECRET123" not in text


def test_metadata_is_printed_as_text_and_reads_no_environment(smoke_root, tmp_path, monkeypatch):
    require_latex()
    monkeypatch.setenv("MY_TOKEN", "ghpSECRET123")
    group = 'Group A $\\input|"kpsewhich -var-value=MY_TOKEN" $ & 50% #1 ~ ^^5c'
    metadata = _only_task1(tmp_path, group=group, authors=["A $\\def$", "Two"])
    meta = yaml.safe_load(metadata.read_text())
    meta["tasks"]["task1_pca"]["shares"] = {"A $\\def$": 50, "Two": 50}
    metadata.write_text(yaml.safe_dump(meta))
    out = report.build_report(smoke_root / "notebooks", tmp_path / "report.pdf", root=smoke_root,
                              metadata_path=metadata, keep_tex=False)
    text = " ".join(pdf_text(out).split())
    assert "ghpSECRET123" not in text and "ghpSECRET123" not in out.read_bytes().decode("latin-1")
    # printed, not run (pdftotext gives TeX's " as a closing quote)
    assert "Group A $\\input|" in text and "kpsewhich -var-value=MY_TOKEN" in text
    assert "$ & 50% #1" in text and "$\\def$" in text


def test_a_parameter_value_reaches_the_pdf_as_text(smoke_root, tmp_path):
    folder = _copy_notebooks(smoke_root, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    nb.metadata.papermill.parameters["resize_method"] = "a_b $x$ 50% #1 \\input{/etc/passwd} ~{}"
    nbformat.write(nb, folder / "task1_pca.ipynb")
    section = report.notebook_section(folder / "task1_pca.ipynb", {}, root=smoke_root)
    assert (r'\textbf{"a\_b \$x\$ 50\% \#1 \textbackslash{}input\{/etc/passwd\} \textasciitilde{}\{\}"} '
            r'(default "pillow-bicubic")') in section


def test_a_tex_command_in_computed_prose_is_printed_as_text(smoke_root, tmp_path):
    folder = _copy_notebooks(smoke_root, tmp_path)
    nb = nbformat.read(folder / "task1_pca.ipynb", as_version=4)
    said = next(output for cell in nb.cells for output in cell.get("outputs", [])
                if "text/markdown" in output.get("data", {}) and "mlcms_table" not in output.get("metadata", {}))
    said.data["text/markdown"] = "A value: \\input{/etc/hostname} and more."
    nbformat.write(nb, folder / "task1_pca.ipynb")
    section = report.notebook_section(folder / "task1_pca.ipynb", {}, root=smoke_root)
    assert r"A value: \textbackslash input\{/etc/hostname\} and more." in section


def test_tex_reads_no_file_of_the_machine_even_from_math(smoke_root, tmp_path):
    require_latex()
    folder = _with_markdown(smoke_root, tmp_path, "The host: $\\input{/etc/hostname}$")
    hostname = Path("/etc/hostname").read_text().strip()
    with pytest.raises(report.ReportError, match="xelatex failed") as refused:
        report.build_report(folder, tmp_path / "report.pdf", root=smoke_root, keep_tex=False)
    assert "/etc/hostname" in str(refused.value) and not (tmp_path / "report.pdf").exists()
    assert hostname not in (tmp_path / "report.log").read_text().replace("/etc/hostname", "")
