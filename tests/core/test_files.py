"""Atomic files: the old file or the whole new one, with the permissions a plain write gives."""

import os

import pytest

from helpers.core.files import atomic_path, write_atomic


def test_atomic_writes_honour_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        assert write_atomic(tmp_path / "a.txt", "x").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert write_atomic(tmp_path / "b.txt", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path):
    target = write_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
