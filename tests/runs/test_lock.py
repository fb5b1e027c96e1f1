"""The directory lock: a second process is refused at once; the kernel frees it on any exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlnoise.runs.lock import LOCK_FILE, DirectoryInUse, directory_lock

from .helpers import ROOT

_HOLD = (
    "import sys; from rlnoise.runs.lock import directory_lock\n"
    "with directory_lock(sys.argv[1], '--out'):\n"
    "    print('locked', flush=True)\n"
    "    sys.stdin.readline()\n"
)


def _holder(directory: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(directory)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    return process


def test_a_second_process_is_refused_while_the_first_holds_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = _holder(out)
    try:
        with pytest.raises(DirectoryInUse) as info, directory_lock(out, "--out"):
            pass
        message = str(info.value)
        assert (
            "\n" not in message and f"--out {out} is in use by another rlnoise process" in message
        )
    finally:
        holder.communicate("done\n")
    with directory_lock(out, "--out") as locked:  # released when the holder finished
        assert locked == out and (out / LOCK_FILE).exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    holder.kill()  # SIGKILL: no cleanup code runs
    holder.communicate()
    with directory_lock(tmp_path, "--out"):
        pass


def test_the_lock_checks_the_directory_first(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(ValueError, match="is a file, not a directory"),
        directory_lock(tmp_path / "file", "--out"),
    ):
        pass
