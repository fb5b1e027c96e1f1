"""Reports: statistics per group and condition, JSON/CSV/PNG files, the terminal table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from stable_baselines3 import PPO

from rlnoise.evaluation import RobustnessReport, evaluate_robustness
from rlnoise.evaluation import statistics as st

GRID = {
    "gaussian": [0.05, 0.2],
    "random_action": [0.3],
    "dynamics": {"attributes": {"length": [1.0, 2.0]}},
}


@pytest.fixture(scope="module")
def report(untrained_cartpole: PPO) -> RobustnessReport:
    other = PPO("MlpPolicy", "CartPole-v1", seed=13, device="cpu")
    return evaluate_robustness(
        {"a": [untrained_cartpole, other], "b": other}, "CartPole-v1", GRID, 5, 0, "cpu",
        progress=False,
    )  # fmt: skip


def test_summary_rows_match_the_statistics(report: RobustnessReport) -> None:
    rows = report.summary(n_resamples=500)
    assert len(rows) == 2 * len(report.conditions)
    row = next(r for r in rows if r["group"] == "a" and r["condition"] == "obs:gaussian:0.2")
    scores = report.scores("a", "obs:gaussian:0.2")
    assert scores.shape == (2, 5)
    assert row["mean"] == st.mean(scores) and row["iqm"] == st.iqm(scores)
    assert row["median"] == st.median(scores) and row["n_runs"] == 2
    assert row["mean_ci"][0] <= row["mean"] <= row["mean_ci"][1]
    clean = st.mean(report.scores("a", "clean"))
    assert row["fraction_of_clean"] == pytest.approx(row["mean"] / clean)


def test_families_curves_and_worst_case(report: RobustnessReport) -> None:
    curves = report.curves(n_resamples=200)
    gaussian = curves["a"]["obs:gaussian"]
    assert [p["level"] for p in gaussian] == [0.0, 0.05, 0.2]  # clean added at level 0
    families = {(f["group"], f["condition_group"]): f for f in report.families(n_resamples=200)}
    dynamics = families[("a", "dynamics:length")]
    means = [st.mean(report.scores("a", n)) for n in ("dynamics:length=1.0", "dynamics:length=2.0")]
    assert dynamics["worst"] == min(means) and dynamics["average"] == pytest.approx(np.mean(means))
    assert dynamics["auc"] is None  # dynamics are bars, not curves
    fractions = [p["fraction_of_clean"] for p in gaussian]
    expected = st.robustness_auc([0.0, 0.05, 0.2], fractions)
    assert families[("a", "obs:gaussian")]["auc"] == pytest.approx(expected)


def test_probability_of_improvement_between_groups(report: RobustnessReport) -> None:
    p = report.probability_of_improvement("a", "b", "clean")
    q = report.probability_of_improvement("b", "a", "clean")
    assert p + q == pytest.approx(1.0)


def test_files(report: RobustnessReport, tmp_path: Path) -> None:
    paths = report.save(tmp_path, n_resamples=200)
    assert set(paths) == {"json", "episodes_csv", "summary_csv", "curve_png", "bar_png"}
    for key in ("curve_png", "bar_png"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["metadata"]["versions"]["stable_baselines3"]
    assert data["metadata"]["seed"] == 0 and data["episode_reset_seeds"] == [0, 1, 2, 3, 4]
    assert data["conditions"][1]["perturbations"][0]["noise"]["kind"] == "gaussian"
    loaded = RobustnessReport.load_json(paths["json"])
    assert np.array_equal(loaded.returns, report.returns)
    assert loaded.conditions == report.conditions
    with open(paths["episodes_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report.returns.size
    first = rows[0]
    assert float(first["return"]) == report.returns[0, 0, 0] and first["reset_seed"] == "0"
    with open(paths["summary_csv"]) as handle:
        assert len(list(csv.DictReader(handle))) == 2 * len(report.conditions)


def test_table(report: RobustnessReport) -> None:
    buffer = io.StringIO()
    report.print_table(Console(file=buffer, width=140), n_resamples=200)
    text = buffer.getvalue()
    for name in ("obs:gaussian:0.2", "random_action:0.3", "dynamics:length=2.0", "worst"):
        assert name in text


def test_bad_shapes_and_files(tmp_path: Path, report: RobustnessReport) -> None:
    with pytest.raises(ValueError, match="returns must have shape"):
        RobustnessReport(np.zeros((1, 2)), np.zeros((1, 2)), report.conditions, report.runs, {})
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"is not a rlnoise\.robustness_report"):
        RobustnessReport.load_json(path)


def test_damaged_report_file_and_bad_condition_index(
    tmp_path: Path, report: RobustnessReport
) -> None:
    path = report.save_json(tmp_path / "report.json", n_resamples=10)
    data = json.loads(path.read_text())
    del data["lengths"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="is damaged: KeyError"):
        RobustnessReport.load_json(path)
    for bad in (len(report.conditions), -1, True):
        with pytest.raises(ValueError, match="condition must be a name or an index"):
            report.scores("a", bad)
