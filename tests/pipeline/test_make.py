"""The Makefile in a scratch copy of the checkout: the environment check, the stamps that rerun
tasks, distclean, and builds that give the same bytes with -j1 and -j2 and from check-reproducible."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers.core import data
from helpers.core.files import ROOT

from ..conftest import require_latex

pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent
#: A fast build: the smoke parameters and two notebooks.
SMALL = ["PARAMS=params/smoke", "NOTEBOOKS=notebooks/task1_pca.ipynb notebooks/task2_diffusion_maps.ipynb"]


def copy_checkout(target: Path) -> Path:
    """The checkout's files (tracked and untracked, not ignored) in ``target``, as a git work tree.
    Outside a git checkout: every file but the generated and installed ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True)
    if listed.returncode == 0:
        names = [name.decode() for name in listed.stdout.split(b"\0") if name]
    else:
        names = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and _source(p.relative_to(ROOT))]
    for name in names:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)  # keeps times: the environment stays up to date
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    return target


def _source(path: Path) -> bool:
    """Whether a file is part of the source (not installed, generated, or data), outside git."""
    generated = {".git", ".venv", ".venv-datafold", "build", "results", "__pycache__", ".pytest_cache", ".ruff_cache"}
    if generated & set(path.parts) or any(part.endswith(".egg-info") for part in path.parts):
        return False
    return path.parts[0] not in ("data", "figures") or path.as_posix() in ("data/README.md", "figures/README.md")


def make(folder: Path, *args: str, own_helpers: bool = True, **env) -> subprocess.CompletedProcess:
    # The copies have no git history: the date the build records is fixed, as a commit would fix it.
    # They share this checkout's environments (datafold's too, which make creates here when missing).
    environment = {**os.environ, "VIRTUAL_ENV": str(VENV), "SOURCE_DATE_EPOCH": "1764460800",
                   "DATAFOLD_VENV": str(ROOT / ".venv-datafold"), **env}
    environment[data.ENV_DATA_DIR] = str(data.search_dirs()[0])  # a relative one means: from this checkout
    environment.pop("MAKEFLAGS", None)
    environment.pop("MFLAGS", None)
    if own_helpers:  # this copy's helpers come first, as `pip install -e .` there would arrange
        environment["PYTHONPATH"] = str(folder)
    else:
        environment.pop("PYTHONPATH", None)
    return subprocess.run(["make", "--no-print-directory", "-C", str(folder), *args], env=environment,
                          capture_output=True, text=True, timeout=1800)


def digests(folder: Path) -> dict[str, str]:
    files = sorted([*folder.glob("figures/*/*.pdf"), *folder.glob("figures/*/*.png"),
                    folder / "report" / "build" / "report.pdf"])
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_an_environment_whose_helpers_are_another_checkouts_is_refused(tmp_path):
    copy = copy_checkout(tmp_path / "copy")
    refused = make(copy, "check-venv", own_helpers=False)
    assert refused.returncode != 0
    assert f"imports helpers from {ROOT.resolve()}, not from this checkout ({copy})" in refused.stderr
    assert "pip install -e" in refused.stderr
    assert make(copy, "check-venv").returncode == 0


def test_setup_never_reinstalls_another_checkouts_environment_for_this_one(tmp_path):
    copy = copy_checkout(tmp_path / "copy")
    os.utime(copy / "requirements.txt")  # newer than the environment: make wants to reinstall it
    refused = make(copy, "setup")
    assert refused.returncode != 0 and f"imports helpers from {ROOT.resolve()}" in refused.stderr
    found = subprocess.run([sys.executable, "-c", "import helpers; print(helpers.__file__)"], cwd="/",
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                if k != "PYTHONPATH"}).stdout
    assert found.strip() == str(ROOT / "helpers" / "__init__.py")


def test_the_keras_backend_stamp_changes_only_with_the_backend(tmp_path):
    copy = copy_checkout(tmp_path / "copy")
    stamp = copy / "build" / "env" / "keras-backend"
    assert make(copy, "build/env/keras-backend", KERAS_BACKEND="jax").returncode == 0
    assert stamp.read_text() == "jax\n"
    os.utime(stamp, (1_000_000, 1_000_000))
    assert make(copy, "build/env/keras-backend", KERAS_BACKEND="jax").returncode == 0
    assert stamp.stat().st_mtime == 1_000_000  # unchanged backend: nothing reruns
    assert make(copy, "build/env/keras-backend", KERAS_BACKEND="torch").returncode == 0
    assert stamp.read_text() == "torch\n" and stamp.stat().st_mtime > 1_000_000
    assert make(copy, "build/deps-params.mk").returncode == 0
    rules = (copy / "build" / "deps-params.mk").read_text()
    assert "ENV_task3_vae_mnist := build/env/keras-backend" in rules  # Keras tasks rerun on a change
    assert "ENV_task1_pca := \n" in rules  # the others do not
    assert "ENV_task2_diffusion_maps := build/env/datafold" in rules  # Task 2 reruns when datafold comes or goes


def test_in_a_whole_build_the_sweep_runs_before_the_notebooks_that_train_and_beside_the_others(tmp_path):
    """The sweep's small networks slow down far more than other work beside Task 3's trainings, so
    a whole build runs Task 3 after the sweep; Tasks 1 and 2 need not wait (a dry run shows the order)."""
    copy = copy_checkout(tmp_path / "copy")
    dry = make(copy, "-n", "-j1", "_report")
    assert dry.returncode == 0, dry.stderr[-2000:]
    lines = dry.stdout.splitlines()

    def first(text):
        return next(i for i, line in enumerate(lines) if text in line)

    sweep = first('-m helpers.pipeline.sweep "params/sweeps/task4_fire_evacuation.yaml"')
    assert first('run_notebook "notebooks/task1_pca.ipynb"') < sweep
    assert first('run_notebook "notebooks/task2_diffusion_maps.ipynb"') < sweep
    assert sweep < first('run_notebook "notebooks/task3_vae_mnist.ipynb"')
    alone = make(copy, "-n", "build/notebooks/task3_vae_mnist.ipynb")  # asked for alone, Task 3 does not wait
    assert alone.returncode == 0 and "helpers.pipeline.sweep" not in alone.stdout


def test_a_datafold_that_cannot_be_installed_leaves_the_build_going_and_is_retried_on_request(tmp_path):
    copy = copy_checkout(tmp_path / "copy")
    (copy / "requirements-datafold.txt").write_text("no-such-package-for-this-test==0.0.1\n")
    venv, stamp = tmp_path / "datafold-env", copy / "build" / "env" / "datafold"
    first = make(copy, "build/env/datafold", DATAFOLD_VENV=str(venv))
    assert first.returncode == 0, first.stderr
    assert "datafold could not be installed" in first.stderr and "`make datafold` tries again" in first.stderr
    assert stamp.read_text() == "unavailable\n"
    assert (venv / ".failed").is_file() and (venv / "pip.log").is_file() and not (venv / "bin").exists()
    again = make(copy, "build/env/datafold", DATAFOLD_VENV=str(venv))
    assert again.returncode == 0 and "creating" not in again.stdout  # no new attempt at every build
    retried = make(copy, "datafold", DATAFOLD_VENV=str(venv))
    assert retried.returncode != 0 and "creating" in retried.stdout


def test_distclean_removes_downloads_and_keeps_the_users_files(tmp_path):
    copy = copy_checkout(tmp_path / "copy")
    (copy / "data" / "pca_dataset.txt").write_text("1 2\n")
    (copy / "data" / "my_measurements.csv").write_text("x,y\n")
    (copy / "data" / ".downloaded").write_text("pca_dataset.txt\n")
    result = make(copy, "distclean")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (copy / "data").iterdir()) == ["README.md", "my_measurements.csv"]


@pytest.mark.parametrize("target", ["clean", "distclean"])
def test_cleaning_waits_for_a_running_build_instead_of_deleting_its_files(tmp_path, target):
    copy = copy_checkout(tmp_path / "copy")
    (copy / "results").mkdir()
    (copy / "results" / "task1_pca.json").write_text("{}")
    seen = tmp_path / "seen.txt"
    # a "build" holding the lock that looks at its results after a while
    build = subprocess.Popen([sys.executable, "-m", "helpers.pipeline.lock", str(copy / "build" / ".build.lock"), "--",
                              "bash", "-c", f"sleep 3; ls {copy / 'results'} > {seen}"], cwd=ROOT)
    time.sleep(1)
    cleaned = make(copy, target)
    build.wait(timeout=60)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "holds" in cleaned.stderr and "waiting for it to finish" in cleaned.stderr
    assert seen.read_text().split() == ["task1_pca.json"]  # the build still had its files at its end
    assert not (copy / "results").exists()  # and the cleaning came after it


def _report_of_small(copy: Path) -> None:
    """The copy's report/metadata.yaml with the tasks of SMALL alone: the PDF refuses a report that
    lacks a task its metadata names."""
    path = copy / "report" / "metadata.yaml"
    meta = yaml.safe_load(path.read_text())
    meta["tasks"] = {key: task for key, task in meta["tasks"].items() if key in ("task1_pca", "task2_diffusion_maps")}
    path.write_text(yaml.safe_dump(meta, sort_keys=False))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same small build made with -j2 and with -j1, each in its own copy: notebooks at the same
    time and trainings in a pool of two processes, or everything one after another in one process."""
    require_latex()
    folders = {}
    for jobs in ("-j2", "-j1"):
        copy = copy_checkout(tmp_path_factory.mktemp(f"build{jobs}"))
        _report_of_small(copy)
        result = make(copy, jobs, "report", *SMALL, JOBS=jobs[2:], MLCMS_WORKERS=jobs[2:])
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        folders[jobs] = copy
    return folders


def test_a_parallel_build_gives_the_same_bytes_as_a_serial_one(built):
    parallel, serial = digests(built["-j2"]), digests(built["-j1"])
    assert len(parallel) > 10 and "report/build/report.pdf" in parallel
    assert parallel == serial
    assert list((built["-j2"] / "build" / "runs").iterdir()) == []  # no run folder left behind


def test_a_build_records_the_time_of_each_step_and_a_second_build_has_nothing_to_do(built):
    timings = json.loads((built["-j2"] / "build" / "timings.json").read_text())
    assert set(timings["steps"]["notebook"]) == {"task1_pca", "task2_diffusion_maps"}
    assert list(timings["steps"]["report"]) == ["PDF (nbconvert, XeLaTeX)"]
    assert all(seconds > 0 for steps in timings["steps"].values() for seconds in steps.values())
    assert timings["wall_seconds"] >= max(timings["steps"]["notebook"].values())
    again = make(built["-j2"], "report", *SMALL)
    assert again.returncode == 0 and "==> nothing to do: the report is up to date" in again.stdout
    assert json.loads((built["-j2"] / "build" / "timings.json").read_text()) == timings  # the last build's
    assert not (built["-j2"] / "build" / "timings").exists() or not any((built["-j2"] / "build" / "timings").iterdir())


def test_check_reproducible_builds_elsewhere_and_leaves_the_report_alone(built):
    folder = built["-j1"]
    before = {path: (folder / path).stat().st_mtime_ns for path in digests(folder)}
    result = make(folder, "check-reproducible", *SMALL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "figure files and the PDF are byte-identical across two builds" in result.stdout
    assert {path: (folder / path).stat().st_mtime_ns for path in digests(folder)} == before


def test_make_lab_checks_the_environment_serves_the_repository_and_passes_options(tmp_path):
    """As root (containers) JupyterLab needs --allow-root; LAB_ARGS reaches it; its file browser sees build/."""
    planned = subprocess.run(["make", "-n", "lab", "LAB_ARGS=--port 9999 --no-browser"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert "jupyter lab" in planned and "--port 9999 --no-browser" in planned
    assert f'--ServerApp.root_dir="{ROOT}"' in planned and "default_url=/lab/tree/notebooks" in planned
    assert "--KernelManager.transport=ipc" in planned  # kernels on Unix sockets, as the pipeline's
    assert "--ContentsManager.post_save_hook=helpers.pipeline.lab.post_save" in planned
    assert ("--allow-root" in planned) == (os.getuid() == 0) or "id -u" in planned
    database = subprocess.run(["make", "-p", "-n", "lab"], cwd=ROOT, capture_output=True, text=True).stdout
    assert any(line.startswith("lab: check-venv") for line in database.splitlines())


def test_make_help_lists_every_target():
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    phony = next(line for line in (ROOT / "Makefile").read_text().split("\n.PHONY:")[1:2])
    targets = [name for name in " ".join(phony.split("\n")[:2]).replace("\\", " ").split()
               if not name.startswith("_") and name not in ("help", "FORCE")]
    missing = [target for target in targets if f"make {target}" not in listed and target not in listed]
    assert not missing, missing


def test_a_checkout_whose_path_holds_a_space_is_refused_at_once(tmp_path):
    folder = tmp_path / "sp ace"
    folder.mkdir()
    shutil.copy2(ROOT / "Makefile", folder)
    done = subprocess.run(["make", "setup"], cwd=folder, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert done.returncode != 0 and "holds a space, which make cannot handle" in done.stderr
    assert not (folder / ".venv").exists()


def test_a_data_folder_whose_name_holds_a_space_reaches_the_build_as_given(tmp_path):
    folder = tmp_path / "my data"
    shown = subprocess.run(["make", "--no-print-directory", "--eval", "show-data-dir: ; @echo \"$$MLCMS_DATA_DIR\"",
                            "show-data-dir"], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, data.ENV_DATA_DIR: str(folder)}).stdout
    assert shown.strip() == str(folder)


def test_two_makes_at_once_in_a_new_checkout_set_up_once(tmp_path):
    """The second waits for the first's set-up instead of failing in pip."""
    folder = copy_checkout(tmp_path / "copy")
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS")}
    first = subprocess.Popen(["make", "check-venv"], cwd=folder, env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    while not (folder / ".venv" / "bin" / "python").exists():
        assert first.poll() is None
        time.sleep(0.2)
    second = subprocess.run(["make", "check-venv"], cwd=folder, env=environment, capture_output=True, text=True,
                            timeout=900)
    assert first.wait(timeout=900) == 0 and second.returncode == 0, second.stderr
    assert "another make is setting up" in second.stderr and "installing Python requirements" not in second.stdout


def test_the_system_packages_step_waits_for_apt_and_with_try_only_warns(tmp_path):
    """Another apt (unattended upgrades) holds dpkg's lock: the step waits for it, and --try never fails."""
    if os.getuid() != 0:
        pytest.skip("the script installs only as root")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "env", "tr", "id", "grep", "cat"):
        (tools / tool).symlink_to(shutil.which(tool))
    calls = tmp_path / "apt-calls"
    (tools / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "E: Could not get lock" >&2\nexit 100\n')
    (tools / "apt-get").chmod(0o755)
    script, environment = str(ROOT / "scripts" / "system-deps.sh"), {"PATH": str(tools)}
    tried = subprocess.run([script, "--try"], env=environment, capture_output=True, text=True, timeout=60)
    assert tried.returncode == 0 and "warning: the report's LaTeX toolchain is incomplete" in tried.stderr
    assert "DPkg::Lock::Timeout=600" in calls.read_text()
    strict = subprocess.run([script], env=environment, capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1 and "error: the report's LaTeX toolchain is incomplete" in strict.stderr
