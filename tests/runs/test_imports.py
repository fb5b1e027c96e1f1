"""``import rlnoise.runs`` stays light: a lock or a one-line error needs no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_runs_loads_neither_torch_nor_gymnasium_nor_sb3_nor_ray() -> None:
    code = (
        "import sys, rlnoise.runs, rlnoise.runs.errors, rlnoise.runs.lock, rlnoise.runs.config\n"
        "import rlnoise.runs.backends, rlnoise.runs.discovery\n"
        "heavy = ('torch', 'gymnasium', 'stable_baselines3', 'ray')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert rlnoise.runs.resolve_class('gymnasium.Wrapper').__name__ == 'Wrapper'\n"
        "assert 'resolve_class' in dir(rlnoise.runs)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
