"""Run ``rlnoise`` in a subprocess (with the gated env registered) and interrupt it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .gated_env import GATE, GATE_LINE

ROOT = Path(__file__).resolve().parents[2]
#: Imports the gated env, then runs the console script's main on the arguments. SIGINT gets
#: Python's own handler, as in a terminal's foreground job: a shell that starts the test suite
#: in the background (`pytest &`) hands down an ignored SIGINT, and Ctrl-C would never arrive.
_PROGRAM = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "import sys, tests.runs.gated_env\n{setup}\n"
    "from rlnoise.cli import main\nsys.exit(main(sys.argv[1:]))"
)


def start_rlnoise(*args: str, gate: str | None = None, setup: str = "") -> subprocess.Popen[str]:
    """``rlnoise ARGS`` in its own process group (as a shell runs a foreground job).

    Args:
        args: The command line after ``rlnoise``.
        gate: ``"SEED:N"``: the N-th reset with seed SEED of the gated env waits.
        setup: Python run first (e.g. to gate CartPole-v1 itself).
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop(GATE, None)
    if gate is not None:
        env[GATE] = gate
    return subprocess.Popen(
        [sys.executable, "-c", _PROGRAM.format(setup=setup), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(process: subprocess.Popen[str], prefix: str = GATE_LINE) -> list[str]:
    """Read stdout until a line starting with ``prefix``; returns the lines read."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return lines
    _, err = process.communicate()
    raise AssertionError(f"the process ended before {prefix!r}: {''.join(lines)}{err}")


def press_ctrl_c(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """SIGINT to the whole process group, as Ctrl-C in a terminal; returns (code, out, err)."""
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)  # a guard against a hang, not a measurement
    return process.returncode, out, err


def stop(process: subprocess.Popen[str]) -> None:
    """Kill the process group if a test failed before it ended."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
