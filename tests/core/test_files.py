"""Atomic files: the old file or the whole new one, with the permissions a plain write gives."""

import os

import pytest

from helpers.core.files import MAX_YAML_BYTES, SettingsError, atomic_path, read_yaml, read_yaml_file, write_atomic


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


@pytest.mark.parametrize(("text", "message"), [
    ("a: &x [1, 2]\nb: [*x, *x, *x]\n", "aliases \\(\\*name\\) are not allowed"),
    ("1: 2\n", "the key 1 is not a name"),
    ("seed: 1\nseed: 2\n", "the key 'seed' is given twice"),
    ("a: [1\n", "is not a settings file we can read"),
])
def test_a_settings_file_is_read_strictly(text, message):
    with pytest.raises(SettingsError, match=message):
        read_yaml(text, "f.yaml")


def test_an_oversized_settings_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_YAML_BYTES + 1))
    with pytest.raises(SettingsError, match=f"has {MAX_YAML_BYTES + 4} bytes; a settings file has at most"):
        read_yaml_file(path)
