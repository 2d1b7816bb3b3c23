"""The data contract: lookup order, checksums, content checks, and downloads over HTTP."""

import dataclasses
import functools
import hashlib
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.core import data
from helpers.core.files import ROOT


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty data/ and $MLCMS_DATA_DIR folders; downloads allowed unless a test forbids them."""
    env_dir, repo_dir = tmp_path / "env", tmp_path / "repo-data"
    env_dir.mkdir()
    repo_dir.mkdir()
    monkeypatch.setenv(data.ENV_DATA_DIR, str(env_dir))
    monkeypatch.setattr(data, "DATA_DIR", repo_dir)
    monkeypatch.delenv(data.ENV_OFFLINE, raising=False)
    return env_dir, repo_dir


@pytest.fixture
def http_server(tmp_path):
    """A file server on 127.0.0.1 serving tmp_path/served; yields (folder, base_url)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def real_points() -> bytes:
    """The real pca_dataset.txt, wherever the data contract finds it (CI: $MLCMS_DATA_DIR)."""
    return data.locate("pca_dataset").read_bytes()


@pytest.fixture(scope="session")
def real_mnist():
    return data.load_mnist()


def write_points(path: Path, seed: int = 0) -> bytes:
    content = "\n".join(f"{x:.6f} {y:.6f}" for x, y in np.random.default_rng(seed).normal(size=(10, 2)))
    path.write_text(content + "\n")
    return path.read_bytes()


def test_registry_covers_every_data_set():
    assert {d.filename for d in data.REGISTRY.values()} == {
        "pca_dataset.txt", "data_DMAP_PCA_vadere.txt", "FireEvac_train_set.npy",
        "FireEvac_test_set.npy", "face.dat", "mnist.npz"}
    assert all(len(d.sha256) == 64 for d in data.REGISTRY.values())


def test_env_dir_comes_before_data_dir(real_points, isolated):
    env_dir, repo_dir = isolated
    source = real_points
    (env_dir / "pca_dataset.txt").write_bytes(source)
    (repo_dir / "pca_dataset.txt").write_bytes(source)
    assert data.locate("pca_dataset", download=False) == env_dir / "pca_dataset.txt"
    (env_dir / "pca_dataset.txt").unlink()
    assert data.locate("pca_dataset", download=False) == repo_dir / "pca_dataset.txt"


def test_checksum_mismatch_names_file_place_and_remedy(isolated):
    env_dir, _ = isolated
    bad = env_dir / "pca_dataset.txt"
    write_points(bad)
    with pytest.raises(data.DataError) as info:
        data.locate("pca_dataset", download=False)
    message = str(info.value)
    assert "pca_dataset.txt" in message and str(bad) in message and "SHA-256" in message
    assert "make data" in message and data.ENV_DATA_DIR in message


def test_missing_file_offline_says_where_it_looked(isolated, monkeypatch):
    env_dir, repo_dir = isolated
    monkeypatch.setenv(data.ENV_OFFLINE, "1")
    with pytest.raises(data.DataNotFoundError) as info:
        data.locate("vadere")
    message = str(info.value)
    assert "data_DMAP_PCA_vadere.txt" in message and str(env_dir) in message and str(repo_dir) in message
    assert "make data" in message
    assert isinstance(info.value, FileNotFoundError)


def test_download_from_local_server_is_verified_and_renamed(isolated, http_server, monkeypatch):
    _, repo_dir = isolated
    folder, url = http_server
    payload = write_points(folder / "points.txt", seed=3)
    entry = dataclasses.replace(data.REGISTRY["pca_dataset"], url=url + "points.txt",
                                sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(data.REGISTRY, "pca_dataset", entry)
    path = data.locate("pca_dataset")
    assert path == repo_dir / "pca_dataset.txt" and path.read_bytes() == payload
    assert data.load_pca_dataset().shape == (10, 2)
    assert sorted(p.name for p in repo_dir.iterdir()) == [".downloaded", "pca_dataset.txt"]
    assert (repo_dir / ".downloaded").read_text() == "pca_dataset.txt\n"  # what `make distclean` may remove


def test_corrupted_download_leaves_nothing_behind(isolated, http_server, monkeypatch):
    _, repo_dir = isolated
    folder, url = http_server
    write_points(folder / "points.txt", seed=4)
    entry = dataclasses.replace(data.REGISTRY["pca_dataset"], url=url + "points.txt")  # real checksum
    monkeypatch.setitem(data.REGISTRY, "pca_dataset", entry)
    with pytest.raises(data.DataError, match="has SHA-256 .* nothing was saved"):
        data.locate("pca_dataset")
    assert list(repo_dir.iterdir()) == []


def test_unreachable_source_gives_a_not_found_error(isolated, http_server, monkeypatch):
    _, repo_dir = isolated
    _, url = http_server
    monkeypatch.setitem(data.REGISTRY, "vadere",
                        dataclasses.replace(data.REGISTRY["vadere"], url=url + "nothing-here.txt"))
    with pytest.raises(data.DataNotFoundError, match="downloading it from .* failed: HTTP Error 404"):
        data.locate("vadere")
    assert list(repo_dir.iterdir()) == []


def test_mnist_is_accepted_by_content_and_a_wrong_archive_is_not(real_mnist, isolated):
    env_dir, _ = isolated
    (train_x, train_y), (test_x, test_y) = real_mnist
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_x.dtype == np.uint8 and set(np.unique(test_y)) == set(range(10))
    np.savez(env_dir / "mnist.npz", x_train=train_x[:10], y_train=train_y[:10], x_test=test_x, y_test=test_y)
    with pytest.raises(data.DataError, match="x_train has shape \\(10, 28, 28\\)"):
        data.locate("mnist", download=False)


def test_loaders_check_shapes_of_the_real_files():
    assert data.load_pca_dataset().shape == (100, 2)
    assert data.load_vadere().shape == (1000, 30)
    train, test = data.load_fire_evac()
    assert train.shape == (3000, 2) and test.shape == (600, 2)
    assert data.load_face(gray=False).shape == (768, 1024, 3)


def test_content_check_rejects_nan(tmp_path):
    path = tmp_path / "FireEvac_test_set.npy"
    values = np.zeros((600, 2))
    values[3, 1] = np.nan
    np.save(path, values)
    with pytest.raises(data.DataError, match="NaN"):
        data.CONTENT_CHECKS["fire_evac_test"](path)


def test_command_line_stamps_only_change_with_content(tmp_path, capsys):
    assert data.main(["stamp", str(tmp_path)]) == 0
    stamp = tmp_path / "pca_dataset.txt.sha256"
    assert stamp.read_text().split()[0] == data.REGISTRY["pca_dataset"].sha256
    before = stamp.stat().st_mtime_ns
    assert data.main(["stamp", str(tmp_path)]) == 0
    assert stamp.stat().st_mtime_ns == before
    assert data.main(["fetch", "no-such-set"]) == 1
    assert "unknown data set" in capsys.readouterr().err


# --------------------------------------------------------------------------- hardened downloads and MNIST


class _Redirect(http.server.BaseHTTPRequestHandler):
    """Redirects every request to the address in the class attribute ``target``."""

    target = ""

    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_redirect_away_from_https_is_not_followed(isolated, http_server, monkeypatch):
    _, repo_dir = isolated
    folder, url = http_server
    write_points(folder / "points.txt")
    handler = type("ToHttp", (_Redirect,), {"target": url + "points.txt"})
    server, redirect_url = _serve(handler)
    try:
        monkeypatch.setitem(data.REGISTRY, "pca_dataset",
                            dataclasses.replace(data.REGISTRY["pca_dataset"], url=redirect_url + "x"))
        with pytest.raises(data.DataNotFoundError, match="redirected to http://127.0.0.1.*which is not https"):
            data.locate("pca_dataset")
    finally:
        server.shutdown()
        server.server_close()
    assert list(repo_dir.iterdir()) == []


def test_a_download_stops_at_the_registered_size(isolated, http_server, monkeypatch):
    _, repo_dir = isolated
    folder, url = http_server
    (folder / "big.txt").write_bytes(b"0 0\n" * 5000)  # 20 kB where 5193 bytes are expected
    monkeypatch.setitem(data.REGISTRY, "pca_dataset",
                        dataclasses.replace(data.REGISTRY["pca_dataset"], url=url + "big.txt"))
    with pytest.raises(data.DataNotFoundError, match="announced 20000 bytes, more than the 5193 expected"):
        data.locate("pca_dataset")
    assert list(repo_dir.iterdir()) == []


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends a byte every 0.2 s without announcing a length: only a deadline stops it."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"0")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_download_stops_at_its_deadline_and_leaves_no_part_file(isolated, monkeypatch):
    _, repo_dir = isolated
    server, url = _serve(_Trickle)
    try:
        dataset = dataclasses.replace(data.REGISTRY["pca_dataset"], url=url + "slow")
        started = time.monotonic()
        with pytest.raises(data._DownloadStopped, match="took longer than 1 s"):
            data.download_file(dataset, repo_dir, timeout=5, deadline=1.0)
        assert time.monotonic() - started < 10
    finally:
        server.shutdown()
        server.server_close()
    assert list(repo_dir.iterdir()) == []


def test_a_download_killed_with_sigterm_leaves_no_part_file(tmp_path):
    server, url = _serve(_Trickle)
    script = (f"import dataclasses; from pathlib import Path; from helpers.core import data; "
              f"d = dataclasses.replace(data.REGISTRY['pca_dataset'], url='{url}slow'); "
              f"data.download_file(d, Path('{tmp_path}'))")
    try:
        process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"{data.STAGING}/*")):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert process.returncode != 0 and list(tmp_path.iterdir()) == []


def test_part_files_left_by_a_killed_download_are_removed_by_the_next(tmp_path):
    staging = tmp_path / data.STAGING
    staging.mkdir()
    stale, fresh = staging / "tmpabc", staging / "tmpdef"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    data.remove_stale_parts(staging, older_than=960)
    assert list(staging.iterdir()) == [fresh]  # a live download's part file stays


def test_a_relative_data_dir_is_taken_from_the_repository_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data.ENV_DATA_DIR, "helpers/core")
    assert data.search_dirs()[0] == ROOT / "helpers" / "core"


@pytest.mark.parametrize(("kind", "said"), [("file", "is a file, not a folder"),
                                             ("missing", "is no folder (it does not exist)")])
def test_a_data_dir_that_is_no_folder_is_refused_before_any_download(isolated, monkeypatch, tmp_path, kind, said):
    named = tmp_path / "mnist.npz"
    if kind == "file":
        named.write_bytes(b"not a folder")
    monkeypatch.setenv(data.ENV_DATA_DIR, str(named))
    monkeypatch.setattr(data, "download_file", lambda *args: pytest.fail("no download may start"))
    with pytest.raises(data.DataError, match=f"MLCMS_DATA_DIR={named} {re.escape(said)}; point it at the folder"):
        data.locate("mnist")


def test_mnist_with_the_right_shapes_but_other_pixels_is_refused(real_mnist, isolated):
    env_dir, _ = isolated
    (train_x, train_y), (test_x, test_y) = real_mnist
    noise = np.random.default_rng(0).integers(0, 256, size=train_x.shape, dtype=np.uint8)
    np.savez(env_dir / "mnist.npz", x_train=noise, y_train=train_y, x_test=test_x, y_test=test_y)
    with pytest.raises(data.DataError, match=r"the array x_train is not MNIST's .* Delete it. To provide it, copy"):
        data.locate("mnist", download=False)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_truncated_or_corrupted_mnist_archive_gets_the_usual_message(real_mnist, isolated, damage):
    env_dir, _ = isolated
    (train_x, train_y), (test_x, test_y) = real_mnist
    path = env_dir / "mnist.npz"
    np.savez_compressed(path, x_train=train_x, y_train=train_y, x_test=test_x, y_test=test_y)
    content = bytearray(path.read_bytes())
    if damage == "truncate":
        content = content[: len(content) // 2]
    else:
        content[len(content) // 3] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(data.DataError, match=rf"mnist.npz at {env_dir}/mnist.npz does not hold the expected content"
                                             r".*Delete it. To provide it"):
        data.locate("mnist", download=False)


def _npz_with_header(path, shape):
    """An mnist.npz whose x_train header declares ``shape``, with hardly any data behind it."""
    import zipfile

    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("x_train.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 64)
        for key, size in (("y_train", (60000,)), ("x_test", (10000, 28, 28)), ("y_test", (10000,))):
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, np.zeros(size, np.uint8))


def test_a_crafted_mnist_header_is_refused_before_any_array_is_read(isolated):
    """A header declaring (10^7, 10^6) bytes asked numpy for 9 TiB; the shape is checked first."""
    import tracemalloc

    env_dir, _ = isolated
    _npz_with_header(env_dir / "mnist.npz", (10**7, 10**6))
    tracemalloc.start()
    with pytest.raises(data.DataError, match=r"x_train has shape \(10000000, 1000000\), expected \(60000, 28, 28\)"):
        data.locate("mnist", download=False)
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20
    tracemalloc.stop()
