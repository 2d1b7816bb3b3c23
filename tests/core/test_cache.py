"""The one cache: keys over everything that defines an entry; whole entries or none."""

import errno
import json
import os

import numpy as np
import pytest

from helpers.core import cache


def test_the_key_changes_with_every_part(tmp_path):
    file = tmp_path / "code.py"
    file.write_text("a = 1\n")
    base = cache.digest({"x": 1}, np.zeros(3), file)
    assert base == cache.digest({"x": 1}, np.zeros(3), file)
    assert base != cache.digest({"x": 2}, np.zeros(3), file)
    assert base != cache.digest({"x": 1}, np.zeros(3, dtype=np.float32), file)
    assert base != cache.digest({"x": 1}, np.zeros((3, 1)), file)
    file.write_text("a = 2\n")
    assert base != cache.digest({"x": 1}, np.zeros(3), file)


def test_a_write_that_fails_for_the_disk_is_a_warning_and_leaves_nothing(tmp_path):
    said = []
    store = cache.FolderCache(tmp_path, "thing", log=said.append)

    def failing(folder):
        (folder / "v").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    assert store.store("k", failing) is None
    assert said == [f"cache: could not keep thing-k in {tmp_path} (No space left on device); it is used now and "
                    "computed again next time."]
    assert list(tmp_path.iterdir()) == []


def test_a_writer_that_fails_otherwise_raises_and_leaves_nothing(tmp_path):
    store = cache.FolderCache(tmp_path, "thing", log=lambda message: None)

    def failing(folder):
        (folder / "v").write_text("half")
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        store.store("k", failing)
    assert list(tmp_path.iterdir()) == []


def test_a_whole_entry_is_read_back_with_the_usual_permissions(tmp_path):
    store = cache.FolderCache(tmp_path, "thing", log=lambda message: None)
    assert store.load("k", lambda folder: (folder / "v").read_text()) is None
    store.store("k", lambda folder: (folder / "v").write_text("whole"))
    assert store.load("k", lambda folder: (folder / "v").read_text()) == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["thing-k"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "thing-k" / "v").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_broken_entry_is_a_miss_that_says_so(tmp_path):
    said = []
    store = cache.FolderCache(tmp_path, "thing", log=said.append)
    store.store("k", lambda folder: (folder / "v").write_text("{"))
    assert store.load("k", lambda folder: json.loads((folder / "v").read_text())) is None
    assert len(said) == 1 and "could not be read" in said[0] and not (tmp_path / "thing-k").exists()


@pytest.mark.parametrize("change", ["edit", "add", "remove", "old marker"])
def test_an_entry_changed_after_it_was_written_is_a_miss_that_says_so(tmp_path, change):
    said = []
    store = cache.FolderCache(tmp_path, "thing", log=said.append)
    store.store("k", lambda folder: [(folder / name).write_text(name) for name in ("a", "b")])
    entry = tmp_path / "thing-k"
    if change == "edit":
        (entry / "a").write_text("A")
    elif change == "add":
        (entry / "c").write_text("c")
    elif change == "remove":
        (entry / "b").unlink()
    else:
        (entry / cache.COMPLETE).write_text("complete\n")  # what entries held before they listed their files
    assert store.load("k", lambda folder: (folder / "a").read_text()) is None
    assert len(said) == 1 and "could not be read (BrokenEntry" in said[0] and not entry.exists()


def test_a_disabled_cache_stores_nothing():
    assert cache.FolderCache(None, "x").store("k", lambda folder: None) is None
