"""Atomic writes: the old file or the new one, never a mix; errors name the file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rlnoise.runs import files
from rlnoise.runs.files import atomic_path, check_writable, write_bytes, write_text


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text(tmp_path / "report.json", '{"old": true}')
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text('{"new": tr')  # a write cut short by a crash
        raise RuntimeError("killed mid-write")
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_temporary_is_a_sibling_with_the_targets_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "model.zip") as temporary:
        # SB3 appends ".zip" to a path without that suffix; matplotlib reads the format from it
        assert temporary.parent == tmp_path and temporary.suffix == ".zip"
        assert not temporary.exists()
        temporary.write_bytes(b"zip")
    assert (tmp_path / "model.zip").read_bytes() == b"zip"
    assert write_bytes(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"


def test_a_block_that_writes_nothing_leaves_the_target_alone(tmp_path: Path) -> None:
    write_text(tmp_path / "curve.png", "old plot")
    with atomic_path(tmp_path / "curve.png"):
        pass  # e.g. no curve to draw
    assert (tmp_path / "curve.png").read_text() == "old plot"


def test_disk_full_is_an_oserror_naming_the_target_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_text(tmp_path / "done.json", "{}")

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match=r"cannot write .*done\.json: No space left") as info:
        write_text(target, '{"seed": 0}')
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["done.json"]


def test_check_writable_creates_the_directory_and_refuses_a_file(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "a" / "b", "--out").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the probe is gone
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"--out .*file is a file, not a directory"):
        check_writable(tmp_path / "file", "--out")


def test_check_writable_read_only_filesystem_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "touch", read_only)
    with pytest.raises(OSError, match=r"^\[Errno 30\] output_dir .* is not writable: Read-only"):
        check_writable(tmp_path, "output_dir")


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="root writes into a chmod 0o500 directory anyway (simulated in the test above)",
)
def test_check_writable_chmod_read_only_directory(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"--out .*ro is not writable"):
            check_writable(locked, "--out")
    finally:
        locked.chmod(0o700)
