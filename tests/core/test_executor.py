"""Independent runs on one executor: the local process pool, Dask distributed, and what a
failing run leaves behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from helpers.core import executor
from helpers.core.files import ROOT
from helpers.pipeline import sweep
from helpers.vae.training import TrainingConfig, train_many, train_vae

SMOKE_GRID = ROOT / "params" / "smoke" / "sweeps" / "task4_fire_evacuation.yaml"


def square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    return n * n


def thread_setting() -> str:
    return os.environ.get("TF_NUM_INTRAOP_THREADS", "")


def test_a_failing_run_is_reported_with_its_label_and_traceback_while_the_others_finish():
    seen = []
    with executor.executor(max_workers=1) as pool:
        outcomes = executor.run_all(square_or_fail, {f"n={n}": (n,) for n in range(1, 6)}, pool=pool, log=seen.append)
    assert list(outcomes) == ["n=1", "n=2", "n=3", "n=4", "n=5"]
    assert [outcomes[f"n={n}"] for n in (1, 2, 4, 5)] == [1, 4, 16, 25]
    failure = outcomes["n=3"]
    assert isinstance(failure, executor.Failure) and failure.label == "n=3"
    assert failure.error == "ValueError: three is refused"
    assert "square_or_fail" in failure.traceback and "raise ValueError" in failure.traceback
    assert "n=3 failed: ValueError: three is refused" in seen and len(seen) == 5
    assert executor.failures(outcomes) == [failure]


def test_the_local_pool_gives_each_worker_its_share_of_the_cores_as_threads(monkeypatch):
    monkeypatch.setattr(executor, "cores", lambda: 4)
    with executor.executor(max_workers=2) as pool:
        assert [pool.submit(thread_setting).result() for _ in range(2)] == ["2", "2"]
    with executor.executor(max_workers=4) as pool:
        assert pool.submit(thread_setting).result() == "1"
    assert executor.thread_settings(0)["OMP_NUM_THREADS"] == "1"


def test_the_number_of_local_workers_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(executor.WORKERS_VARIABLE, raising=False)
    assert executor.local_workers() == executor.cores()
    monkeypatch.setenv(executor.WORKERS_VARIABLE, "3")
    assert executor.local_workers() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(executor.WORKERS_VARIABLE, bad)
        with pytest.raises(ValueError, match="MLCMS_WORKERS must be a positive integer"):
            executor.local_workers()


def test_an_unreachable_scheduler_says_what_to_do():
    pytest.importorskip("distributed")
    with pytest.raises(RuntimeError, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        with executor.executor("tcp://127.0.0.1:9", timeout=2):
            pass


@pytest.mark.slow
def test_models_trained_at_once_in_a_pool_equal_models_trained_alone(tmp_path, monkeypatch):
    monkeypatch.setenv(executor.WORKERS_VARIABLE, "2")
    rng = np.random.default_rng(0)
    x, validation = rng.random((600, 30), dtype=np.float32), rng.random((100, 30), dtype=np.float32)
    configs = {("latent", d): TrainingConfig(latent_dim=d, hidden=(32, 32), max_epochs=3, min_epochs=3)
               for d in (1, 2)}
    pooled = train_many(x, validation, configs, cache_dir=tmp_path, verbose=0)
    assert list(pooled) == list(configs) and all(model.from_cache for model in pooled.values())  # trained in workers
    assert len(list(tmp_path.glob("vae-*"))) == 2
    for name, config in configs.items():
        alone = train_vae(x, validation, config, verbose=0)  # here, with this process's threads, no cache
        assert not alone.from_cache
        for a, b in zip(alone.model.get_weights(), pooled[name].model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert alone.history == pooled[name].history


@pytest.mark.slow
def test_a_failing_sweep_point_is_marked_in_the_table_and_the_other_points_finish(tmp_path):
    grid = yaml.safe_load(SMOKE_GRID.read_text())
    grid["vary"] = {"latent_dim": [0]}  # refused by the notebook's range check, in its kernel
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    code = sweep.main([str(tmp_path / "grid.yaml"), str(tmp_path / "out"), "--set", f"cache_dir={tmp_path / 'cache'}"])
    assert code == 1
    table_file = tmp_path / "out.json"
    table = json.loads(table_file.read_text())
    assert table["failed"] == ["latent_dim=0"] and table["chosen"] == "base"
    # the one point that ran is the best, and trains again with the grid's confirming seed
    assert [p["label"] for p in table["points"]] == ["base", "latent_dim=0", "base_seed=1"]
    base, failed, _ = table["points"]
    assert base["chosen"] and "validation_negative_elbo" in base["metrics"]
    assert not failed["chosen"] and "latent_dim" in failed["failed"] and "ParameterError" in failed["traceback"]
    assert table_file.stat().st_mtime == 0  # older than its inputs: make runs the sweep again
    with pytest.raises(ValueError, match=r"incomplete: the points \['latent_dim=0'\] failed"):
        sweep.load(table_file)


@pytest.mark.slow
def test_the_smoke_sweep_on_a_dask_cluster_gives_the_local_pool_s_table(smoke_root, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = json.loads((smoke_root / "sweeps" / "task4_fire_evacuation.json").read_text())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with distributed.Client(cluster) as client:
            workers = {info["id"] for info in client.scheduler_info()["workers"].values()}
            assert len(workers) == 2
        # a cache of its own: the cluster's workers train every model again
        on_dask = sweep.run(SMOKE_GRID, tmp_path / "out", overrides={"cache_dir": str(tmp_path / "cache")},
                            scheduler=cluster.scheduler_address, log=lambda _: None)
    assert len(list((tmp_path / "cache").glob("vae-*"))) == len(on_dask["points"]) == 5  # 3 points, 2 confirmations
    assert on_dask["failed"] == [] and on_dask["chosen"] == local["chosen"]

    def table(summary):
        return [(p["label"], p["chosen"], p["metrics"]) for p in summary["points"]]

    assert table(on_dask) == table(local)


POOL_SCRIPT = """
import faulthandler, os, signal, sys, time
from pathlib import Path
from helpers.core import executor

faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it waits, if it hangs
# A Jupyter kernel turns SIGINT into KeyboardInterrupt whatever it inherited; so does this "kernel",
# also when the tests run in the background with SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)

def mark_then_sleep(folder, label):
    (Path(folder) / f"{label}.pid").write_text(str(os.getpid()))
    time.sleep(60)
    (Path(folder) / f"{label}.done").write_text("finished")

if __name__ == "__main__":
    folder = sys.argv[1]
    executor.run_all(mark_then_sleep, {f"run{k}": (folder, f"run{k}") for k in range(4)}, max_workers=2)
"""


def sigint_handler() -> str:
    handler = signal.getsignal(signal.SIGINT)
    return getattr(handler, "__qualname__", repr(handler))


def test_pool_workers_turn_sigint_into_keyboard_interrupt_even_when_started_with_it_ignored():
    """A build started in the background (``make report &``) runs with SIGINT ignored; its workers must
    still hear the SIGINT with which a stopped pool lets their runs clean up (a KeyboardInterrupt during
    a job, a quiet end between jobs)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what the workers inherit
    try:
        with executor.executor(max_workers=2) as pool:
            handlers = {pool.submit(sigint_handler).result() for _ in range(4)}
    finally:
        signal.signal(signal.SIGINT, previous)
    assert handlers == {"_interrupt_worker"}


def test_an_interrupted_pool_run_stops_its_workers_and_says_what_it_stopped(tmp_path):
    """JupyterLab's Stop sends SIGINT to the kernel alone, not to the pool's workers."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("*.pid"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    workers = [int(path.read_text()) for path in tmp_path.glob("*.pid")]
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)  # the stacks of all its threads, then stop it and its workers
        time.sleep(2)
        for pid in [process.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail("the interrupted pool run did not end within 60 s; its threads:\n"
                    + process.communicate(timeout=30)[1])
    assert time.monotonic() - stopped_at < 30 and process.returncode != 0
    assert "interrupted: stopping 4 of 4 runs (run0, run1, run2, run3); 0 had finished." in err
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not list(tmp_path.glob("*.done"))


GROUP_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from helpers.core import executor

signal.signal(signal.SIGINT, signal.default_int_handler)

def mark_then_sleep(folder, label, seconds):
    (Path(folder) / f"{label}.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
    return label

if __name__ == "__main__":
    folder = sys.argv[1]
    jobs = {"run0": (folder, "run0", 0), "run1": (folder, "run1", 60), "run2": (folder, "run2", 60)}
    try:
        executor.run_all(mark_then_sleep, jobs, max_workers=3)
    except executor.Interrupted as stopped:
        print("shown in a notebook:", *stopped._render_traceback_())
        sys.exit(130)
"""


def test_stop_that_reaches_the_whole_process_group_names_what_it_stopped_and_nothing_else(tmp_path):
    """JupyterLab's Stop and a terminal's Ctrl-C send SIGINT to the kernel's process group: the workers
    hear it at the same time as the kernel, those running a job and those idle or still importing."""
    script = tmp_path / "group.py"
    script.write_text(GROUP_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("*.pid"))) < 3:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    time.sleep(1)  # run0 is done: its worker waits for work
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == "interrupted: stopping 2 of 3 runs (run1, run2); 1 had finished.", err
    assert out.strip() == "shown in a notebook: interrupted: stopping 2 of 3 runs (run1, run2); 1 had finished."
