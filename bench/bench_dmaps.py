"""Benchmark: our sparse diffusion map against datafold's DiffusionMaps, side by side in one run.

Both fit the same swiss roll with the same kernel exp(-D^2 / eps) (eps = 5% of the diameter),
the same cut-off radius (where the kernel falls below tol) and the same number of eigenpairs.
Each fit runs in a fresh process, so its peak resident memory is measured (it includes the
interpreter and imported libraries, about 100-200 MB). Prints one table with the ratios.

    python bench/bench_dmaps.py [--sizes 5000 20000 100000] [--tol 1e-8] [--large-tol 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree
from sklearn.datasets import make_swiss_roll

from helpers.dmaps.kernels import cut_off_radius, diameter

HERE = Path(__file__).resolve().parent
WORKER = HERE / "dmaps_worker.py"
#: Measured peak bytes per stored kernel entry of our sparse path, construction included (23 at N = 1e5).
BYTES_PER_ENTRY = 24


def run_worker(python: str, mode: str, data: Path, epsilon: float, tol: float, k: int,
               timeout: float) -> dict:
    """Run one fit in a child process; returns its JSON result plus its peak memory in MB."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([python, str(WORKER), mode, str(data), repr(epsilon), repr(tol), str(k)],
                                   stdout=out, stderr=err, env=env, text=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s", "peak_mb": usage.ru_maxrss / 1024}
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        out, err = out.read(), err.read()
    if status != 0:
        return {"error": (err.strip().splitlines() or ["killed"])[-1]}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    return result


def mean_neighbours(X: np.ndarray, radius: float, sample: int = 2000) -> float:
    rows = np.random.default_rng(0).choice(len(X), min(sample, len(X)), replace=False)
    return float(cKDTree(X).query_ball_point(X[rows], radius, return_length=True).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--tol", type=float, default=1e-8, help="kernel cut-off (the sparse kernel's tol)")
    parser.add_argument("--large-tol", type=float, default=0.1,
                        help="looser cut-off also run at sizes whose kernel at --tol would not fit in memory")
    parser.add_argument("--n-eigenpairs", type=int, default=11)
    parser.add_argument("--memory-limit-gb", type=float, default=8.0, help="skip runs predicted to need more")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed for one fit")
    parser.add_argument("--datafold-python", default=str(HERE.parent / ".venv-datafold" / "bin" / "python"))
    args = parser.parse_args()
    has_datafold = Path(args.datafold_python).exists()
    if not has_datafold:
        print(f"datafold not found at {args.datafold_python} (make bench-dmaps creates it); ours only.")

    header = (f"{'N':>7s} {'tol':>7s} {'nbrs':>6s} {'ours s':>8s} {'ours MB':>8s} {'datafold s':>10s} "
              f"{'datafold MB':>11s} {'speed-up':>8s} {'max rel eig diff':>16s}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            X, _ = make_swiss_roll(n, noise=0.0, random_state=0)
            path = Path(tmp) / f"roll{n}.npy"
            np.save(path, X)
            epsilon = 0.05 * diameter(X)
            for tol in dict.fromkeys([args.tol, args.large_tol]):
                neighbours = mean_neighbours(X, cut_off_radius(epsilon, tol))
                predicted_gb = neighbours * n * BYTES_PER_ENTRY / 1e9
                if tol == args.large_tol and args.large_tol != args.tol and \
                        mean_neighbours(X, cut_off_radius(epsilon, args.tol)) * n * BYTES_PER_ENTRY / 1e9 \
                        <= args.memory_limit_gb:
                    continue  # the exact-ish kernel fits: no need for the looser one
                if predicted_gb > args.memory_limit_gb:
                    print(f"{n:7d} {tol:7.0e} {neighbours:6.0f}  skipped: about {predicted_gb:.0f} GB predicted "
                          f"(limit {args.memory_limit_gb:g} GB)")
                    continue
                ours = run_worker(sys.executable, "ours", path, epsilon, tol, args.n_eigenpairs, args.timeout)
                theirs = run_worker(args.datafold_python, "datafold", path, epsilon, tol, args.n_eigenpairs,
                                    args.timeout) if has_datafold else {"error": "not installed"}
                print(format_row(n, tol, neighbours, ours, theirs), flush=True)
    print("speed-up = datafold seconds / our seconds (fit only, same kernel and eigenpairs); "
          "eigenvalues are those of the Markov matrix.")


def format_row(n: int, tol: float, neighbours: float, ours: dict, theirs: dict) -> str:
    def cell(result, key, width, fmt):
        return f"{result[key]:{width}{fmt}}" if key in result else f"{'n/a':>{width}s}"

    row = f"{n:7d} {tol:7.0e} {neighbours:6.0f} {cell(ours, 'seconds', 8, '.2f')} {cell(ours, 'peak_mb', 8, '.0f')} "
    row += f"{cell(theirs, 'seconds', 10, '.2f')} {cell(theirs, 'peak_mb', 11, '.0f')} "
    if "seconds" in ours and "seconds" in theirs:
        a, b = np.array(ours["eigenvalues"]), np.array(theirs["eigenvalues"])
        row += f"{theirs['seconds'] / ours['seconds']:7.2f}x {np.max(np.abs(a / b - 1)):16.1e}"
    for name, result in (("ours", ours), ("datafold", theirs)):
        if "error" in result:
            row += f"  [{name}: {result['error'][:60]}]"
    return row


if __name__ == "__main__":
    main()
