"""One run, one set of outputs: a notebook run publishes its figures, results and executed
notebook together or not at all; parameter names are strict from every source; concurrent
builds neither share files nor overlap; the report refuses outputs of mixed runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers.core.files import ROOT
from helpers.notebook import ParameterError
from helpers.pipeline import lock, sweep
from helpers.pipeline import pdf as report
from helpers.pipeline import run_notebook as runner

PARAMETERS = '''# Parameters
n: int = 1
fail: bool = False
wait: float = 0.0
output_dir: str = "build/interactive"'''

WORK = '''import time

from helpers.notebook.figures import new_figure, publish
from helpers.notebook import at_least, check_parameters, check_ranges, path, save_results

params = check_parameters(globals())
check_ranges(params, {"n": at_least(1), "fail": at_least(0), "wait": at_least(0), "output_dir": path()})
fig, ax = new_figure(width="half")
ax.plot([0, n], [0, 1])
publish(fig, "tiny", "line", f"A line to {n}.", output_dir=output_dir)
save_results("tiny", {"n": n}, parameters=params, output_dir=output_dir)
time.sleep(wait)'''


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A small task notebook: one figure, one results file, an optional late failure or pause."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(WORK), nbformat.v4.new_code_cell("if fail:\n    raise ValueError('late')")]
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "notebooks" / "tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def outputs(root: Path) -> dict[str, bytes]:
    """Every published file under root (figures, results, executed notebook) by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "runs" not in p.parts}


def run_cli(tiny: Path, root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "helpers.pipeline.run_notebook", str(tiny),
                             str(root / "build" / "notebooks" / "tiny.ipynb"), "--root", str(root), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_run_publishes_together_and_a_failed_run_publishes_nothing(tiny, tmp_path):
    root = tmp_path / "root"
    out = root / "build" / "notebooks" / "tiny.ipynb"
    runner.run(tiny, out, {"n": 1}, root=root, log_output=False)
    first = outputs(root)
    assert set(first) == {"figures/tiny/line.pdf", "figures/tiny/line.png", "results/tiny.json",
                          "build/notebooks/tiny.ipynb"}
    document = json.loads(out.read_text())
    assert runner.incomplete_cells(document) == [] and runner.figure_mismatches(document, root) == []
    assert json.loads(first["results/tiny.json"])["parameters"] == {"n": 1, "fail": False, "wait": 0.0}
    assert list((root / "build" / "runs").iterdir()) == []  # the run's own folder is gone

    with pytest.raises(runner.RunError, match=r"stopped in cell-02 \(failed: ValueError: late\)"):
        runner.run(tiny, out, {"n": 2, "fail": True}, root=root, log_output=False)
    assert outputs(root) == first  # the figure of n=2 was drawn, but nothing of that run was published
    assert (root / "build" / "runs" / "failed" / "tiny.ipynb").is_file()


def test_an_interrupted_run_leaves_nothing_behind(tiny, tmp_path):
    root = tmp_path / "root"
    process = run_cli(tiny, root, "-p", "wait", "60")
    deadline = time.monotonic() + 120
    while not list(root.glob("build/runs/tiny.*/results/tiny.json")):  # the figure and results are written
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "nothing of tiny.ipynb's run was published" in stderr
    assert outputs(root) == {} and list((root / "build" / "runs").iterdir()) == []


def test_concurrent_runs_use_folders_of_their_own(tiny, tmp_path):
    root = tmp_path / "root"
    processes = [run_cli(tiny, root, "-p", "n", str(n), "-p", "wait", "1") for n in (3, 4)]
    for process in processes:
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
    document = json.loads((root / "build" / "notebooks" / "tiny.ipynb").read_text())
    n = document["metadata"]["papermill"]["parameters"]["n"]
    assert runner.figure_mismatches(document, root) == []  # the figures are the published notebook's run's
    assert json.loads((root / "results" / "tiny.json").read_text())["results"] == {"n": n}


def test_a_misspelled_parameter_stops_before_a_kernel_starts(tiny, tmp_path):
    root = tmp_path / "root"
    (tmp_path / "bad.yaml").write_text("nn: 3\n")
    process = run_cli(tiny, root, "-f", str(tmp_path / "bad.yaml"))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"unknown parameter 'nn' (did you mean 'n'?) in {tmp_path / 'bad.yaml'}" in stderr
    assert not root.exists()  # no run folder: the kernel never started


def test_a_misspelled_parameter_given_to_papermill_by_hand_stops_the_run(tiny, tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter 'wiat' \(did you mean 'wait'\?\)"):
        papermill.execute_notebook(str(tiny), str(tmp_path / "out.ipynb"), parameters={"wiat": 1.0},
                                   kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert not (tmp_path / "build").exists()  # stopped before the figure or results were written


def test_a_misspelled_name_in_a_sweep_grid_or_set_stops_before_the_first_point(tmp_path):
    grid = yaml.safe_load((ROOT / "params" / "smoke" / "sweeps" / "task4_fire_evacuation.yaml").read_text())
    grid["base"]["hiden"] = grid["base"].pop("hidden")
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    with pytest.raises(ParameterError, match=r"unknown parameter 'hiden' \(did you mean 'hidden'\?\) in the sweep"):
        sweep.run(tmp_path / "grid.yaml", tmp_path / "out", log=lambda _: None)
    with pytest.raises(ParameterError, match=r"unknown parameter 'cach_dir' \(did you mean 'cache_dir'\?\) in --set"):
        sweep.run(ROOT / "params" / "smoke" / "sweeps" / "task4_fire_evacuation.yaml", tmp_path / "out",
                  overrides={"cach_dir": "x"}, log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_the_report_refuses_a_rewritten_figure_and_an_unfinished_notebook(tiny, tmp_path):
    root = tmp_path / "root"
    out = root / "build" / "notebooks" / "tiny.ipynb"
    runner.run(tiny, out, {"n": 1}, root=root, log_output=False)
    nb = json.loads(out.read_text())
    report.check_notebook(out, nb, root)  # as published: accepted

    pdf = root / "figures" / "tiny" / "line.pdf"
    original = pdf.read_bytes()
    pdf.write_bytes(original.replace(b"%PDF", b"%PDF ", 1))  # e.g. an interactive run with output_dir=root
    refused = r"figures/tiny/line.pdf differs .* `rm .*tiny.ipynb` and `make report`"
    with pytest.raises(report.ReportError, match=refused):
        report.check_notebook(out, nb, root)
    pdf.write_bytes(original)

    last = next(cell for cell in nb["cells"] if cell.get("id") == "cell-02")
    last["metadata"]["papermill"]["status"] = "pending"  # e.g. a notebook saved while it ran
    with pytest.raises(report.ReportError, match=r"not every cell completed: cell-02 \(pending\)"):
        report.check_notebook(out, nb, root)


def test_a_second_build_waits_for_the_lock_and_says_so(tmp_path):
    lock = tmp_path / "build.lock"
    marker = tmp_path / "order.txt"
    first = subprocess.Popen([sys.executable, "-m", "helpers.pipeline.lock", str(lock), "--", "bash", "-c",
                              f"sleep 2; echo first >> {marker}"], cwd=ROOT)
    time.sleep(0.8)
    second = subprocess.run([sys.executable, "-m", "helpers.pipeline.lock", str(lock), "--", "bash", "-c",
                             f"echo second >> {marker}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    first.wait(timeout=60)
    assert second.returncode == 0 and f"a build of this checkout holds {lock}; waiting" in second.stderr
    assert marker.read_text().split() == ["first", "second"]


def test_abandoned_run_folders_of_killed_runs_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "build" / "runs" / f"tiny.{dead.pid}.abc" / "figures").mkdir(parents=True)
    (tmp_path / "build" / "runs" / f"tiny.{os.getpid()}.def").mkdir()
    runner.remove_abandoned(tmp_path)
    assert [p.name for p in (tmp_path / "build" / "runs").iterdir()] == [f"tiny.{os.getpid()}.def"]


@pytest.mark.parametrize(("text", "value"), [("010", 10), ("1:40", "1:40"), ("0.5", 0.5), ("True", True),
                                             ("None", None), ("[1, 2]", "[1, 2]"), ("lanczos", "lanczos")])
def test_a_p_value_is_read_as_papermill_reads_it(text, value):
    assert runner.read_parameters([], [("x", text)]) == {"x": value}


def test_y_takes_lists_and_a_parameters_file_is_read_strictly(tmp_path):
    assert runner.read_parameters([], [], ["image_components: [150, 100]"]) == {"image_components": [150, 100]}
    (tmp_path / "p.yaml").write_text("seed: 1\nseed: 2\n")
    with pytest.raises(ParameterError, match="the key 'seed' is given twice"):
        runner.read_parameters([tmp_path / "p.yaml"], [])


def test_a_kernel_that_dies_is_a_failed_run_with_its_notebook_kept(tiny, tmp_path):
    """A kernel killed by the system (out of memory) ended the run with papermill's DeadKernelError."""
    nb = nbformat.read(tiny, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    nb.cells[2].id = "cell-kill"
    nbformat.write(nb, tiny)
    with pytest.raises(runner.RunError, match=r"tiny.ipynb stopped in cell-kill. The kernel died: it ran out of "
                                              r"memory or was killed.* kept at .*failed/tiny.ipynb"):
        runner.run(tiny, tmp_path / "build" / "notebooks" / "tiny.ipynb", {}, root=tmp_path, log_output=False)
    assert (tmp_path / "build" / "runs" / "failed" / "tiny.ipynb").is_file()
    assert not (tmp_path / "figures").exists()


def test_a_build_lock_that_cannot_be_made_says_what_is_wrong(tmp_path):
    """As in a read-only checkout (root writes anywhere, so the test puts a file where build/ goes)."""
    (tmp_path / "build").write_text("not a folder")
    said = []
    assert lock.run_locked(tmp_path / "build" / ".build.lock", ["true"], log=said.append) == 1
    assert said and "error: cannot take the build lock" in said[0] and "the checkout must be writable" in said[0]
