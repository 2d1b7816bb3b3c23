"""Build the exercise report PDF from the executed notebooks.

Each executed notebook becomes one LaTeX section through nbconvert and the template in
``report/templates/section`` (figures, tables, the parameters it ran with, and under each figure and
table the cell and helpers that made it, helpers/pipeline/provenance.py); ``report/report.tex.j2``
adds the title block, the shares and software tables from ``report/metadata.yaml`` and the
environment. All LaTeX comes from these templates; values reach them escaped (``latex_escape``).
XeLaTeX compiles it in a scratch folder, and the PDF replaces the previous one only when the build
succeeded (a failed build keeps its LaTeX log as ``report/build/report.log``).

A notebook is accepted only if every code cell completed and every figure it recorded is, byte
for byte, the file under ``figures/`` (SHA-256). Links point at the commit when the repository
has a public remote.

    python -m helpers.pipeline.pdf --notebooks build/notebooks --out report/build/report.pdf
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
import nbformat

from helpers.core.files import ROOT, SettingsError, read_yaml_file, write_atomic
from helpers.core.validation import check_real
from helpers.notebook.results import environment_versions

from . import provenance
from .run_notebook import figure_mismatches, incomplete_cells

REPORT_DIR = ROOT / "report"

_LATEX_SPECIAL = {"$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


#: The control sequences math in a caption or table cell may use: symbols and fonts, nothing that
#: reads, writes, defines or expands (``\input``, ``\csname``, ``\catcode``, ...). Math with any other,
#: or with TeX's ``^^`` character notation (``^^5c`` is a backslash), is printed as text.
MATH_COMMANDS = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega
    mathrm mathbf mathit mathcal mathbb operatorname text hat bar tilde vec dot ddot frac sqrt
    sum prod int log exp sin cos tan min max arg argmin argmax det
    cdot times div pm mp le leq ge geq ne neq approx sim simeq propto equiv to mapsto rightarrow leftarrow
    in notin subset subseteq cup cap infty partial nabla top dots ldots cdots quad qquad
    left right lvert rvert lVert rVert langle rangle mid
""".split())
_MATH_TOKEN = re.compile(r"\\([A-Za-z]+|[,;:! {}|])|[A-Za-z0-9\s+\-*/=<>()\[\]|.,;:!'^_{}]|[^\x00-\x7f]")


def _safe_math(segment: str) -> bool:
    """Whether ``$...$`` holds only characters of plain math and control sequences of MATH_COMMANDS."""
    body, position = segment[1:-1], 0
    if "^^" in body:
        return False
    while position < len(body):
        token = _MATH_TOKEN.match(body, position)
        if token is None or (token[1] and token[1].isalpha() and token[1] not in MATH_COMMANDS):
            return False
        position = token.end()
    return True


def latex_escape(text: str, *, math: bool = True) -> str:
    """Escape LaTeX specials outside ``$...$`` math; math that uses anything but plain symbols and the
    control sequences of MATH_COMMANDS is escaped too. With ``math=False`` everything is text, ``$``
    included (for values from parameters, metadata, data or file names, which may hold anything)."""
    if not math:
        return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    parts = re.split(r"(\$[^$]*\$)", str(text))
    return "".join(
        part if part.startswith("$") and part.endswith("$") and len(part) > 1 and _safe_math(part)
        else "".join(_LATEX_SPECIAL.get(ch, ch) for ch in part)
        for part in parts
    )


def url_escape(url: str) -> str:
    """An address that survives LaTeX inside a caption (for ``\\href``)."""
    return url.replace("\\", "/").replace("#", r"\#").replace("%", r"\%")


#: The filters every template of the report uses.
FILTERS = {"e_latex": latex_escape, "e_text": lambda text: latex_escape(text, math=False), "e_url": url_escape}


class ReportError(RuntimeError):
    """The report cannot be built; the message says why and what to do."""


# --------------------------------------------------------------------------- metadata


def load_metadata(path: Path = REPORT_DIR / "metadata.yaml") -> dict:
    """Read and check the report metadata: texts are texts, shares and hours finite numbers, the
    shares of each task add up to 100 over the authors."""
    try:
        meta = read_yaml_file(path)
    except SettingsError as err:
        raise ReportError(f"report metadata: {err}") from None
    required = ("title", "subtitle", "course", "group", "authors", "tasks")
    missing = [key for key in required if key not in (meta if isinstance(meta, dict) else {})]
    if missing:
        raise ReportError(f"{path} lacks {', '.join(missing)}; see the example in the repository.")
    texts = [meta[key] for key in required[:4]] + list(meta["authors"] if isinstance(meta["authors"], list) else [0])
    if not all(isinstance(text, str) for text in texts) or not isinstance(meta["tasks"], dict):
        raise ReportError(f"{path}: title, subtitle, course and group are texts, authors a list of names, tasks a "
                          "mapping.")
    authors = meta["authors"]
    for key, task in meta["tasks"].items():
        shares, hours = task.get("shares", {}), task.get("hours", {})
        if not isinstance(shares, dict) or set(shares) != set(authors):
            raise ReportError(f"{path}: task {key} gives shares for {sorted(shares)}, but the authors are "
                              f"{sorted(authors)}.")
        if not isinstance(hours, dict) or not {"implementation", "testing"} <= set(hours):
            raise ReportError(f"{path}: task {key} needs hours: {{implementation: H, testing: H}}.")
        try:
            for name, value in [*shares.items(), *hours.items()]:
                check_real(value, f"task {key}: {name}", low=0)
        except ValueError as error:
            raise ReportError(f"{path}: {error}") from None
        if abs(sum(shares.values()) - 100) > 1e-9:
            raise ReportError(f"{path}: the shares of task {key} add up to {sum(shares.values())}, not 100.")
    return meta


# --------------------------------------------------------------------------- sections


def _exporter(figure_paths: dict[str, Path], root: Path):
    """nbconvert's LaTeX exporter with our section template; collects referenced figures (their
    paths are relative to ``root``, the folder holding figures/ and results/)."""
    from nbconvert.exporters import LatexExporter
    from traitlets.config import Config

    config = Config()
    config.LatexExporter.template_name = "section"
    config.LatexExporter.extra_template_basedirs = [str(REPORT_DIR / "templates")]
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    exporter = LatexExporter(config=config)

    def figure_path(pdf: str) -> str:
        source = Path(pdf) if Path(pdf).is_absolute() else root / pdf
        if not source.is_file():
            raise ReportError(f"figure {source} is referenced by a notebook but missing; rerun the notebook.")
        name = f"figures/{source.parent.name}/{source.name}"
        figure_paths[name] = source
        return name

    exporter.register_filter("figure_path", figure_path)
    for name, function in FILTERS.items():
        exporter.register_filter(name, function)
    return exporter


def check_notebook(notebook: Path, nb: dict, root: Path) -> None:
    """Refuse a notebook with a cell that did not complete, or whose figures were rewritten since."""
    incomplete = incomplete_cells(nb)
    if incomplete:
        raise ReportError(f"{notebook}: not every cell completed: {'; '.join(incomplete)}. Rerun it: "
                          f"`rm {notebook}` and `make report`.")
    mismatched = figure_mismatches(nb, root)
    if mismatched:
        raise ReportError(f"{notebook} was not the run that wrote its figures: {'; '.join(mismatched)} "
                          f"(another run, for example one in JupyterLab with output_dir {root}, rewrote them). "
                          f"Rerun it so that figures and text come from one run: `rm {notebook}` and `make report`.")


def annotate(nb, notebook_name: str, links: provenance.Links) -> None:
    """Add to each figure and table of an executed notebook the note of the cell and helpers that made it,
    and to the notebook the parameters it ran with; the section template shows both."""
    names = provenance.helper_imports([cell.source for cell in nb.cells if cell.cell_type == "code"])
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        helpers = provenance.called_helpers(cell.source, names)
        for output in cell.get("outputs", []):
            metadata = output.get("metadata", {})
            for kind in ("mlcms_figure", "mlcms_table"):
                if kind in metadata:
                    metadata[kind]["source_note"] = provenance.source_note(
                        notebook_name, cell.get("id"), helpers, links, metadata[kind].get("made_by"))
    nb.metadata["mlcms_parameters"] = provenance.parameters_table(provenance.run_parameters(nb), links, notebook_name)


def notebook_section(notebook: Path, figure_paths: dict[str, Path], *, root: Path = ROOT,
                     links: provenance.Links | None = None) -> str:
    """LaTeX body of one executed notebook (no preamble), its parameters table after its first cell."""
    nb = nbformat.read(notebook, as_version=4)
    check_notebook(notebook, nb, root)
    annotate(nb, f"{notebook.stem}.ipynb", links or provenance.Links(None, None))
    return _exporter(figure_paths, root).from_notebook_node(nb)[0]


# --------------------------------------------------------------------------- environment


def _command_version(command: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(pattern, out)
    return match.group(1) if match else None


def software_versions(results_dir: Path, tasks: list[str]) -> list[tuple[str, str]]:
    """Versions recorded by the notebooks (results/<task>.json) plus the report's own tools."""
    seen: dict[str, set[str]] = {}
    for key in tasks:
        path = results_dir / f"{key}.json"
        if path.is_file():
            for name, version in json.loads(path.read_text()).get("environment", {}).items():
                seen.setdefault(name, set()).add(version)
    if not seen:  # no results recorded: describe the environment that builds the report
        seen = {name: {version} for name, version in environment_versions().items()}
    rows = [(name, ", ".join(sorted(versions))) for name, versions in seen.items()]
    rows.sort(key=lambda row: (row[0] != "python", row[0]))
    for label, command, pattern in (
        ("XeTeX", ["xelatex", "--version"], r"XeTeX ([^\s]+)"),
        ("pandoc", ["pandoc", "--version"], r"pandoc ([^\s]+)"),
    ):
        version = _command_version(command, pattern)
        if version:
            rows.append((label, version))
    return rows


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _source_url(meta: dict) -> str | None:
    """The repository's public https address (credentials dropped), or None for a local checkout."""
    return provenance.public_url((meta.get("source_url") or "").strip() or _git("remote", "get-url", "origin"))


def build_date() -> str:
    """The build date: SOURCE_DATE_EPOCH if set (reproducible builds), else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ReportError(f"SOURCE_DATE_EPOCH={epoch!r} is no date: it is seconds since 1970, up to the end of "
                          "year 9999 (a time in milliseconds is 1000 times too large).") from None
    return f"{when.day} {when:%B %Y}"


# --------------------------------------------------------------------------- LaTeX


def check_toolchain() -> None:
    """Stop with the packages to install if the LaTeX toolchain is incomplete."""
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        raise ReportError(
            f"{' and '.join(missing)} not found. Install the LaTeX toolchain with `make system-deps` "
            f"(installs it as root on Debian/Ubuntu, otherwise names the packages)."
        )


def _run_xelatex(workdir: Path, jobname: str = "report", keep_log: Path | None = None) -> None:
    """Compile twice; on failure the log is copied to ``keep_log`` (if given) and named in the error."""
    # No text that reaches the PDF may run a program or read a file of the machine: -no-shell-escape
    # turns off \write18 and \input|"command" (TeX Live's default, restricted shell escape, allows
    # kpsewhich, which prints any environment variable); openin_any=p and openout_any=p: TeX reads and
    # writes no file by an absolute path, a dot file or one above the build folder.
    env = dict(os.environ, FORCE_SOURCE_DATE="1", openin_any="p", openout_any="p", shell_escape="f")
    env.setdefault("SOURCE_DATE_EPOCH", "0")
    for _ in range(2):  # the second pass resolves references and the figure numbers
        proc = subprocess.run(
            ["xelatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
             f"{jobname}.tex"],
            cwd=workdir, env=env, capture_output=True, text=True, errors="replace", timeout=600,
        )
        log_file = workdir / f"{jobname}.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else proc.stdout
        failed = proc.returncode != 0 or "Missing character: There is no" in log
        if failed and keep_log is not None:
            write_atomic(keep_log, log)
            log_file = keep_log
        missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
        if missing:
            raise ReportError(f"the fonts lack characters {', '.join(missing)}; the PDF would have holes "
                              f"(log: {log_file}).")
        if proc.returncode != 0:
            errors = [line for line in log.splitlines() if line.startswith(("!", "./", "l."))] or log.splitlines()
            raise ReportError("xelatex failed:\n  " + "\n  ".join(errors[-15:]) + f"\n(full log: {log_file})")


def render_tex(notebooks_dir: Path, root: Path, metadata: dict, workdir: Path,
               parameters_folder: str | None = None) -> str:
    """Write the sections and figures into ``workdir`` and return the main LaTeX source. ``root``
    holds the runs' figures/ and results/; ``parameters_folder`` (make's PARAMS) other than "params"
    is named on the title page."""
    commit = _git("rev-parse", "HEAD")
    links = provenance.Links(_source_url(metadata), commit)
    tasks, figure_paths = [], {}
    missing = [key for key in metadata["tasks"] if not (notebooks_dir / f"{key}.ipynb").is_file()]
    if missing:  # a report without some of its tasks must never pass for the whole one
        raise ReportError(f"no executed notebook for {', '.join(missing)} in {notebooks_dir} (removed by `make clean` "
                          "during the build, or never run). `make report` runs every task; to leave a task out of the "
                          "report, remove it from report/metadata.yaml.")
    for number, (key, task) in enumerate(metadata["tasks"].items(), start=1):
        notebook = notebooks_dir / f"{key}.ipynb"
        section = workdir / "sections" / f"{key}.tex"
        section.parent.mkdir(parents=True, exist_ok=True)
        section.write_text(notebook_section(notebook, figure_paths, root=root, links=links))
        tasks.append({**task, "key": key, "number": number, "section": f"sections/{key}"})
    if not tasks:
        raise ReportError("report/metadata.yaml names no task; it lists the tasks of the report.")
    for name, source in figure_paths.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, workdir / name)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPORT_DIR), undefined=jinja2.StrictUndefined,
        block_start_string="((*", block_end_string="*))", variable_start_string="(((",
        variable_end_string=")))", comment_start_string="((=", comment_end_string="=))",
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    shown_commit = commit[:10] if commit else None
    if shown_commit and _git("status", "--porcelain", "--untracked-files=no"):
        shown_commit += " (with local changes)"
    return env.get_template("report.tex.j2").render(
        **{k: metadata[k] for k in ("title", "subtitle", "course", "group", "authors")},
        tasks=tasks, versions=software_versions(root / "results", [t["key"] for t in tasks]),
        build_date=build_date(), source_url=links.base, commit=shown_commit, parameters_folder=parameters_folder,
    )


def build_report(notebooks_dir: Path, out: Path, *, root: Path = ROOT,
                 metadata_path: Path = REPORT_DIR / "metadata.yaml", keep_tex: bool = True,
                 parameters_folder: str | None = None) -> Path:
    """Build the PDF at ``out`` from the executed notebooks and the figures/ and results/ under
    ``root``; on any failure the previous PDF is left as it was."""
    check_toolchain()
    metadata = load_metadata(metadata_path)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        workdir = Path(tmp)
        tex = render_tex(Path(notebooks_dir), Path(root), metadata, workdir, parameters_folder)
        (workdir / "report.tex").write_text(tex)
        _run_xelatex(workdir, keep_log=Path(out).with_suffix(".log"))
        Path(out).with_suffix(".log").unlink(missing_ok=True)  # a log there means: the last build failed
        write_atomic(out, (workdir / "report.pdf").read_bytes())
        if keep_tex:  # for debugging the LaTeX: the main file and its sections
            for source in [workdir / "report.tex", *sorted((workdir / "sections").glob("*.tex"))]:
                write_atomic(Path(out).parent / "tex" / source.relative_to(workdir), source.read_bytes())
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline.pdf", description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "build" / "notebooks")
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder holding the runs' figures/ and results/")
    parser.add_argument("--metadata", type=Path, default=REPORT_DIR / "metadata.yaml")
    parser.add_argument("--out", type=Path, default=REPORT_DIR / "build" / "report.pdf")
    parser.add_argument("--params", default=None, help="the parameters folder the notebooks ran with (make's PARAMS)")
    args = parser.parse_args(argv)
    try:
        path = build_report(args.notebooks, args.out, root=args.root, metadata_path=args.metadata,
                            parameters_folder=args.params)
    except ReportError as err:
        print(f"report: {err}\nThe previous report (if any) was kept.", file=sys.stderr)
        return 1
    except OSError as err:  # a full disk, a folder that cannot be written
        print(f"report: cannot write {err.filename or 'the report'}: {err.strerror or err}.\nThe previous report "
              "(if any) was kept.", file=sys.stderr)
        return 1
    print(f"report: wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
