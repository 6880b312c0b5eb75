"""Files written whole or not at all, readable as a plain write would leave them."""

from __future__ import annotations

import os

import pytest

from candlecast.ops.atomic_files import atomic_write


def test_a_failed_write_leaves_the_earlier_file_and_no_temporary(tmp_path):
    path = atomic_write(tmp_path / "report.html", lambda f: f.write(b"first"))

    def broken(handle):
        handle.write(b"half")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_file_has_the_mode_of_a_plain_write(tmp_path):
    previous = os.umask(0o027)
    try:
        written = atomic_write(tmp_path / "scores.json", lambda f: f.write(b"{}"))
        plain = tmp_path / "plain.json"
        plain.write_bytes(b"{}")
    finally:
        os.umask(previous)
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o640
