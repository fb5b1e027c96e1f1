"""The console script: help, spec parsing, errors as one line with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlnoise.cli import main


def test_help_lists_subcommands(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "spec" in out and "demo" in out


def test_console_script_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlnoise.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage: rlnoise" in result.stdout


def test_spec_prints_canonical_dict(capsys) -> None:
    assert main(["spec", "ou:0.2,theta=0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "ou" and data["theta"] == 0.5 and data["scale"] == 0.2


def test_bad_spec_is_one_line_error_exit_2(capsys) -> None:
    assert main(["spec", "pink:0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlnoise spec: error: kind must be one of") and "\n" not in err


def test_demo_help_states_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:  # argparse's --help exits; returning is a bug
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 50000)" in out and "(default: 30)" in out
