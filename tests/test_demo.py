"""The demo end to end at a tiny budget: two groups trained in workers, evaluated, reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlnoise.demo import DEMO_GRID, TRAIN_NOISE, run_demo


def test_demo_runs_end_to_end_and_reuses_finished_work(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert run_demo(out, steps=64, seeds=(0,), episodes=2, device="cpu", workers=2) == 0
    printed = capsys.readouterr().out
    assert f"P(trained-{TRAIN_NOISE} > trained-clean)" in printed
    report = json.loads((out / "report" / "report.json").read_text())
    # Groups are named for how they were trained, apart from the condition "clean".
    assert {run["group"] for run in report["runs"]} == {"trained-clean", f"trained-{TRAIN_NOISE}"}
    assert report["reference"]["kind"] == "uniform_random"
    assert {"iqm_diff_to_clean", "iqm_normalised"} <= set(report["summary"][0])
    n_conditions = 1 + len(DEMO_GRID["gaussian"]) + len(DEMO_GRID["fgsm"])
    assert len(report["runs"]) == 2 and len(report["conditions"]) == n_conditions
    assert (out / "report" / "robustness_curve.png").stat().st_size > 0
    # A second run trains nothing and evaluates nothing again.
    assert run_demo(out, steps=64, seeds=(0,), episodes=2, device="cpu", workers=2) == 0
    again = capsys.readouterr().out
    assert again.count("finished earlier, reused") == 2
    # Other settings would overwrite that report: refused before evaluating, report kept.
    before = (out / "report" / "report.json").read_text()
    with pytest.raises(
        FileExistsError, match=r"different evaluation \(differs in \['n_episodes'\]"
    ):
        run_demo(out, steps=64, seeds=(0,), episodes=3, device="cpu", workers=2)
    assert (out / "report" / "report.json").read_text() == before


def test_demo_checks_episodes_before_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--episodes must be >= 1, got 0"):
        run_demo(tmp_path / "demo", steps=64, seeds=(0,), episodes=0, device="cpu")
    assert not (tmp_path / "demo").exists()
