"""The data contract: the one place that knows where every data set comes from.

Each data set is looked for, in order, in ``$MLCMS_DATA_DIR`` (a relative path is taken from
the repository root), then in the repository's ``data/`` folder; if it is in neither, it is
downloaded from its canonical public source into ``data/`` and its SHA-256 is verified before
it is used. Downloads go through pooch, which writes a temporary file and renames it only once
verified, so a failed, corrupted, oversized, too slow or interrupted download leaves nothing
behind; they follow only https redirects. ``MLCMS_OFFLINE=1`` forbids downloads. The files a download
created are listed in ``data/.downloaded`` (``make distclean`` removes those and no others).

Command line (used by ``make data``)::

    python -m helpers.core.data fetch            # locate or download every data set
    python -m helpers.core.data stamp build/data # write one checksum stamp per file (for make)
    python -m helpers.core.data list             # where each file was found
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import dataclasses
import hashlib
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .files import DATA_DIR, ROOT, current_umask, terminate_as_interrupt

ENV_DATA_DIR = "MLCMS_DATA_DIR"
ENV_OFFLINE = "MLCMS_OFFLINE"

_COURSE_URL = (
    "https://raw.githubusercontent.com/mlcms-SS22-Group-A/mlcms-SS22-Group-A/exercise-4/data/"
)


class DataError(RuntimeError):
    """A data file exists but is not the file we expect (checksum or content)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file is nowhere to be found and could not be downloaded."""


@dataclasses.dataclass(frozen=True)
class DataSet:
    """One entry of the registry: where a file comes from and how to recognise it."""

    filename: str
    url: str
    sha256: str
    description: str
    #: Checksum of the public download when it differs from the local copy's (MNIST).
    download_sha256: str | None = None
    #: Accept a local copy by its content instead of its checksum.
    accept_local_by_content: bool = False
    #: Size of the public download in bytes: a download stops when it grows beyond it.
    size: int = 0

    @property
    def expected_download_sha256(self) -> str:
        return self.download_sha256 or self.sha256


REGISTRY: dict[str, DataSet] = {
    "pca_dataset": DataSet(
        "pca_dataset.txt",
        _COURSE_URL + "pca_dataset.txt",
        "c3a11f1192b3ca28fe03349115c158fdb85fa646a0d1cd660e50759a8ce4677f",
        "2-D point cloud for Task 1 (course data)",
        size=5193,
    ),
    "vadere": DataSet(
        "data_DMAP_PCA_vadere.txt",
        _COURSE_URL + "data_DMAP_PCA_vadere.txt",
        "6fac748d93edfdca75b4c8b87d10294e0de552565b2237c5a9d784e3a2015623",
        "15 pedestrians x 1000 steps, columns x1 y1 x2 y2 ... (course data)",
        size=752810,
    ),
    "fire_evac_train": DataSet(
        "FireEvac_train_set.npy",
        _COURSE_URL + "FireEvac_train_set.npy",
        "43c4718a3274bd8e90608bd40714c2c787497fa4c93639a9f4258cc10219d1a1",
        "3000 x 2 positions in the MI building, training set (course data)",
        size=48128,
    ),
    "fire_evac_test": DataSet(
        "FireEvac_test_set.npy",
        _COURSE_URL + "FireEvac_test_set.npy",
        "3482cd3b2cac00890474a048b7ebc02efad6c05faa01e4452785d4f9e9731c52",
        "600 x 2 positions in the MI building, test set (course data)",
        size=9728,
    ),
    "face": DataSet(
        "face.dat",
        "https://raw.githubusercontent.com/scipy/dataset-face/main/face.dat",
        "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886",
        "the raccoon image of scipy.datasets.face (bz2-compressed RGB, 768 x 1024)",
        size=1581821,
    ),
    "mnist": DataSet(
        "mnist.npz",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64",
        "MNIST in the keras layout (x_train 60000x28x28 uint8, y_train, x_test, y_test)",
        download_sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        accept_local_by_content=True,
        size=11490434,
    ),
}

#: SHA-256 of each decoded MNIST array's bytes (C order): a local mnist.npz is accepted when its
#: arrays are MNIST's, however the archive was compressed.
MNIST_ARRAYS_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}

#: The list of files that downloads created in data/ (for `make distclean`).
DOWNLOADED = ".downloaded"


# --------------------------------------------------------------------------- lookup


def search_dirs(environment=os.environ) -> list[Path]:
    """The folders searched for data, in order: ``$MLCMS_DATA_DIR`` (if set), then ``data/``. A
    ``$MLCMS_DATA_DIR`` that is no folder is a DataError: data would be downloaded beside it unseen."""
    dirs = []
    env = environment.get(ENV_DATA_DIR, "").strip()
    if env:
        folder = Path(env).expanduser()
        folder = folder if folder.is_absolute() else ROOT / folder
        if not folder.is_dir():
            what = "a file, not a folder" if folder.exists() else "no folder (it does not exist)"
            raise DataError(f"{ENV_DATA_DIR}={env} is {what}; point it at the folder that holds the data sets "
                            f"(a relative path is taken from {ROOT}), or unset it to use {DATA_DIR}.")
        dirs.append(folder)
    dirs.append(DATA_DIR)
    return dirs


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_provide(dataset: DataSet) -> str:
    """The sentence every data error ends with: what the user can do."""
    return (
        f"To provide it, copy {dataset.filename} into {DATA_DIR} or into the folder named by "
        f"${ENV_DATA_DIR}, or run `make data` with internet access (source: {dataset.url})."
    )


def _verify_local(name: str, dataset: DataSet, path: Path):
    """Raise DataError unless the file at ``path`` is the data set we expect. A data set accepted
    by its content returns that content (read once), the others None."""
    if dataset.accept_local_by_content:
        try:
            return CONTENT_CHECKS[name](path)
        except DataError as err:
            raise DataError(
                f"{dataset.filename} at {path} does not hold the expected content: {err} "
                f"Delete it. {_how_to_provide(dataset)}"
            ) from None
    actual = sha256_of(path)
    if actual != dataset.sha256:
        raise DataError(
            f"{dataset.filename} at {path} has SHA-256 {actual}, expected {dataset.sha256}: "
            f"the file is corrupted or a different version. Delete it. {_how_to_provide(dataset)}"
        )
    return None


def locate(name: str, *, download: bool | None = None) -> Path:
    """Path of a verified local copy of data set ``name``, downloading it if needed.

    ``download=None`` downloads unless ``$MLCMS_OFFLINE`` is set.
    """
    return _locate(name, download)[0]


def _locate(name: str, download: bool | None):
    """``(path, content)``: the content when verifying the local copy read it, else None."""
    dataset = _dataset(name)
    dirs = search_dirs()
    for folder in dirs:
        candidate = folder / dataset.filename
        if candidate.is_file():
            return candidate, _verify_local(name, dataset, candidate)
    if download is None:
        download = os.environ.get(ENV_OFFLINE, "").strip() in ("", "0")
    looked = ", ".join(str(d) for d in dirs)
    if not download:
        raise DataNotFoundError(
            f"{dataset.filename} ({dataset.description}) was not found; looked in: {looked}. "
            f"Downloads are disabled (${ENV_OFFLINE} is set). {_how_to_provide(dataset)}"
        )
    try:
        return download_file(dataset, DATA_DIR), None
    except (urllib.error.URLError, OSError, TimeoutError, _DownloadStopped) as err:
        raise DataNotFoundError(
            f"{dataset.filename} ({dataset.description}) was not found (looked in: {looked}) "
            f"and downloading it from {dataset.url} failed: {err}. {_how_to_provide(dataset)}"
        ) from err


def _dataset(name: str) -> DataSet:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown data set {name!r}; known data sets: {', '.join(sorted(REGISTRY))}"
        ) from None


# --------------------------------------------------------------------------- download

#: Downloads go through this folder of data/: pooch writes into a temporary file there, checks the
#: SHA-256 and only then moves it into place; what a killed download leaves there is removed later.
STAGING = ".downloading"


class _DownloadStopped(Exception):
    """A download was stopped: too large, too slow, or redirected away from https."""


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an https address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise _DownloadStopped(f"the server redirected to {newurl}, which is not https; it was not followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def remove_stale_parts(folder: Path, older_than: float) -> None:
    """Remove partial downloads left by a killed process (older than any live download can be)."""
    now = time.time()
    for part in Path(folder).iterdir() if Path(folder).is_dir() else []:
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > older_than:
                part.unlink()


def _bounded_downloader(limit: int | None, timeout: float, deadline: float):
    """A pooch downloader that stops a transfer which grows beyond ``limit`` bytes, takes longer than
    ``deadline`` seconds in all (or ``timeout`` without data), or is redirected away from https."""
    opener = urllib.request.build_opener(_HttpsOnlyRedirects())

    def download(url: str, output_file: str, _pooch) -> None:
        started, received = time.monotonic(), 0
        with opener.open(url, timeout=timeout) as response, open(output_file, "wb") as out:
            announced = int(response.headers.get("Content-Length") or 0)
            if limit and announced > limit:
                raise _DownloadStopped(f"the server announced {announced} bytes, more than the {limit} expected")
            while chunk := response.read1(1 << 16):
                received += len(chunk)
                if limit and received > limit:
                    raise _DownloadStopped(f"it grew beyond the {limit} bytes expected")
                if time.monotonic() - started > deadline:
                    raise _DownloadStopped(f"it took longer than {deadline:g} s")
                out.write(chunk)

    return download


def _record_download(dest_dir: Path, filename: str) -> None:
    listing = Path(dest_dir) / DOWNLOADED
    names = listing.read_text().split() if listing.is_file() else []
    if filename not in names:
        with open(listing, "a") as handle:
            handle.write(filename + "\n")


def download_file(dataset: DataSet, dest_dir: Path, *, timeout: float = 60.0, deadline: float = 900.0) -> Path:
    """Download ``dataset`` into ``dest_dir`` with pooch, which verifies its SHA-256 before the file
    takes its name; the transfer is bounded as ``_bounded_downloader`` says."""
    import pooch

    target, staging = Path(dest_dir) / dataset.filename, Path(dest_dir) / STAGING
    expected = dataset.expected_download_sha256
    remove_stale_parts(staging, older_than=deadline + timeout)
    print(f"downloading {dataset.filename} from {dataset.url}", file=sys.stderr, flush=True)
    pooch.get_logger().setLevel("WARNING")  # the line above says it once
    try:
        with terminate_as_interrupt():
            try:
                fetched = pooch.retrieve(dataset.url, known_hash=f"sha256:{expected}", fname=dataset.filename,
                                         path=staging, downloader=_bounded_downloader(dataset.size, timeout, deadline))
            except ValueError as error:  # pooch's checksum mismatch
                raise DataError(
                    f"the download of {dataset.filename} from {dataset.url} has SHA-256 {sha256_of_error(error)}, "
                    f"expected {expected}; nothing was saved. The source may have changed or the transfer was "
                    f"corrupted: try again. {_how_to_provide(dataset)}"
                ) from None
            os.chmod(fetched, 0o666 & ~current_umask())  # pooch's temporary file was private (0600)
            os.replace(fetched, target)
    finally:
        with contextlib.suppress(OSError):
            staging.rmdir()  # only when empty: a live download's file elsewhere stays
    _record_download(dest_dir, dataset.filename)
    return target


def sha256_of_error(error: ValueError) -> str:
    """The downloaded file's checksum that pooch's mismatch message names."""
    found = re.search(r"but got ([0-9a-f]{64})", str(error))
    return found.group(1) if found else "another value"


# --------------------------------------------------------------------------- content checks


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise DataError(message)


def _check_matrix(array: np.ndarray, filename: str, shape: tuple[int | None, int]) -> np.ndarray:
    _require(array.ndim == 2, f"{filename}: expected a 2-D table, got {array.ndim} dimensions.")
    for axis, size in enumerate(shape):
        if size is not None:
            _require(
                array.shape[axis] == size,
                f"{filename}: expected shape {shape}, got {array.shape}.",
            )
    _require(np.issubdtype(array.dtype, np.floating), f"{filename}: expected floats, got {array.dtype}.")
    _require(bool(np.isfinite(array).all()), f"{filename}: contains NaN or infinite values.")
    return array


def _read_face_rgb(path: Path) -> np.ndarray:
    try:
        raw = bz2.decompress(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise DataError(f"face.dat is not a valid bz2 stream ({err}).") from None
    _require(len(raw) == 768 * 1024 * 3, f"face.dat: expected 768*1024*3 bytes, got {len(raw)}.")
    return np.frombuffer(raw, dtype=np.uint8).reshape(768, 1024, 3)


#: The npy header readers by format version (numpy writes 1.0, and 2.0 for very large headers).
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_mnist(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    expected = {
        "x_train": (60000, 28, 28),
        "y_train": (60000,),
        "x_test": (10000, 28, 28),
        "y_test": (10000,),
    }
    try:
        with zipfile.ZipFile(path) as archive:  # each array's header first: a crafted one could ask for terabytes
            missing = sorted(f"{key}.npy" for key in expected if f"{key}.npy" not in archive.namelist())
            _require(not missing, f"mnist.npz: missing arrays {missing}.")
            for key, shape in expected.items():
                with archive.open(f"{key}.npy") as member:
                    read_header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
                    _require(read_header is not None, f"mnist.npz: {key} is in an npy format we do not read.")
                    found, _, dtype = read_header(member)  # (shape, Fortran order, dtype)
                _require(found == shape, f"mnist.npz: {key} has shape {found}, expected {shape}.")
                _require(dtype == np.uint8, f"mnist.npz: {key} has dtype {dtype}, expected uint8.")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in expected}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"mnist.npz is not a readable npz archive, it may be truncated or corrupted "
                        f"({type(err).__name__}: {err}).") from None
    for key in ("y_train", "y_test"):
        labels = np.unique(arrays[key])
        _require(
            labels.min() == 0 and labels.max() == 9 and labels.size == 10,
            f"mnist.npz: {key} should hold the labels 0..9, holds {labels.tolist()}.",
        )
    for key, checksum in MNIST_ARRAYS_SHA256.items():
        actual = hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest()
        _require(actual == checksum, f"mnist.npz: the array {key} is not MNIST's (SHA-256 {actual}, "
                                     f"expected {checksum}).")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{Path(path).name} is not a readable .npy file ({err}).") from None


def _read_text_table(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise DataError(f"{Path(path).name} is not a numeric table ({err}).") from None


CONTENT_CHECKS: dict[str, Callable[[Path], object]] = {
    "pca_dataset": lambda p: _check_matrix(_read_text_table(p), "pca_dataset.txt", (None, 2)),
    "vadere": lambda p: _check_matrix(_read_text_table(p), "data_DMAP_PCA_vadere.txt", (1000, 30)),
    "fire_evac_train": lambda p: _check_matrix(_read_npy(p), "FireEvac_train_set.npy", (3000, 2)),
    "fire_evac_test": lambda p: _check_matrix(_read_npy(p), "FireEvac_test_set.npy", (600, 2)),
    "face": _read_face_rgb,
    "mnist": _read_mnist,
}


# --------------------------------------------------------------------------- loaders


def load_pca_dataset() -> np.ndarray:
    """The 2-D point cloud of Task 1, shape (n, 2)."""
    return CONTENT_CHECKS["pca_dataset"](locate("pca_dataset"))


def load_vadere() -> np.ndarray:
    """Pedestrian trajectories, shape (1000 steps, 30 = 15 pedestrians x (x, y))."""
    return CONTENT_CHECKS["vadere"](locate("vadere"))


def load_fire_evac() -> tuple[np.ndarray, np.ndarray]:
    """Training (3000, 2) and test (600, 2) positions in the MI building."""
    return (
        CONTENT_CHECKS["fire_evac_train"](locate("fire_evac_train")),
        CONTENT_CHECKS["fire_evac_test"](locate("fire_evac_test")),
    )


def load_face(gray: bool = True) -> np.ndarray:
    """The raccoon image exactly as ``scipy.datasets.face(gray=...)`` returns it (uint8)."""
    rgb = _read_face_rgb(locate("face"))
    if not gray:
        return rgb.copy()
    # The same weights and truncation as scipy.datasets.face(gray=True).
    return (0.21 * rgb[:, :, 0] + 0.71 * rgb[:, :, 1] + 0.07 * rgb[:, :, 2]).astype(np.uint8)


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``keras.datasets.mnist.load_data()`` returns it: (x_train, y_train), (x_test, y_test)."""
    path, content = _locate("mnist", None)
    return content if content is not None else _read_mnist(path)  # a local copy was read to verify it


# --------------------------------------------------------------------------- command line


def write_stamps(folder: Path, names: list[str]) -> None:
    """Write ``<file>.sha256`` per data set, touching a stamp only when its content changes.

    make compares the stamps' times, so a task reruns exactly when one of its files changed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = locate(name)
        text = f"{sha256_of(path)}  {REGISTRY[name].filename}\n"
        stamp = folder / f"{REGISTRY[name].filename}.sha256"
        changed = not stamp.is_file() or stamp.read_text() != text
        if changed:
            stamp.write_text(text)
        print(f"data: {REGISTRY[name].filename:26s} verified{' (changed)' if changed else ''}  {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.core.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="locate or download data sets and verify them")
    fetch.add_argument("names", nargs="*", help=f"data sets (default: all of {', '.join(REGISTRY)})")
    stamp = sub.add_parser("stamp", help="write one checksum stamp per data file")
    stamp.add_argument("folder", type=Path)
    sub.add_parser("list", help="show where each data set is found")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for name in args.names or list(REGISTRY):
                print(f"ok  {name:16s} {locate(name)}")
        elif args.command == "stamp":
            write_stamps(args.folder, list(REGISTRY))
        else:
            for name, dataset in REGISTRY.items():
                found = next((d / dataset.filename for d in search_dirs() if (d / dataset.filename).is_file()), None)
                print(f"{name:16s} {found or 'missing (run make data)'}")
    except (DataError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = [
    "REGISTRY",
    "DataError",
    "DataNotFoundError",
    "DataSet",
    "download_file",
    "load_face",
    "load_fire_evac",
    "load_mnist",
    "load_pca_dataset",
    "load_vadere",
    "locate",
    "search_dirs",
    "sha256_of",
]
